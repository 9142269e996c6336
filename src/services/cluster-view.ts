import type { ClusterRegistry } from "../cluster/registry.js";

/** One member as a service sees it. */
export interface ClusterNode {
  readonly node_id: string;
  readonly role: "coordinator" | "worker" | "unknown";
  readonly state: "alive" | "suspect" | "dead" | "left";
  /** "host:port" */
  readonly address: string;
  readonly services: readonly string[];
}

/** `this.cluster`: a read-only view of the membership, as this node knows it now. */
export interface ClusterView {
  /** This node's id. */
  readonly self: string;
  /** Every member this node knows, itself included. */
  nodes(): ClusterNode[];
  /** Alive nodes running `service` (ids). */
  nodesOf(service: string): string[];
  /** The leader coordinator, or null while there is none. */
  leader(): string | null;
}

export function createClusterView(registry: ClusterRegistry): ClusterView {
  return Object.freeze({
    self: registry.localId,
    nodes: () =>
      registry.members().map((m) =>
        Object.freeze({
          node_id: m.nodeId,
          role: m.meta?.role ?? "unknown",
          state: m.state,
          address: m.address,
          services: Object.freeze((m.meta?.services ?? []).map((s) => s.name)),
        }),
      ),
    nodesOf: (service: string) => registry.hostsOf(service).filter((h) => h.state === "alive").map((h) => h.nodeId),
    leader: () => registry.leader(),
  });
}
