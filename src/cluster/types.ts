import type { DeploymentReport } from "../deploy/types.js";

/** What the cluster knows of each node: the shapes membership and the registry share. */
export type MemberState = "alive" | "suspect" | "dead" | "left";
export type NodeRole = "coordinator" | "worker";

export interface MethodMeta {
  name: string;
  description?: string;
  public: boolean;
  idempotent: boolean;
  cache?: { ttl_s: number; tags?: string[] };
  timeout_ms?: number;
}

export interface ServiceMeta {
  name: string;
  version: string;
  description?: string;
  /** Balancing strategy the service asks for (static BALANCER), else the node default. */
  balancer?: "round-robin" | "random" | "least-latency";
  methods: MethodMeta[];
  /** SHA-256 of the artifact, for a deployed (not static) service. */
  artifact?: string;
}

/** Gossiped per node (serialised by the node; opaque bytes to the membership protocol). */
export interface NodeMeta {
  role: NodeRole;
  /** Software version of the node. */
  version: string;
  /** Wall-clock ms when this incarnation of the process started (leader choice: oldest wins). */
  started_at: number;
  services: ServiceMeta[];
  load?: { inflight: number; lag_ms: number };
  /** --labels of the node (placement matches on them). */
  labels?: Record<string, string>;
  /** Services that failed to load or initialise on the node, with the reason. */
  failed_services?: { name: string; error: string }[];
  /** Deployed services: what this node did with each one's latest generation. */
  deployments?: Record<string, DeploymentReport>;
  /** With TLS: when the node's certificate expires (wall-clock ms). */
  cert_expires?: number;
}

export interface MemberView {
  nodeId: string;
  /** "host:port": HTTP on TCP and gossip on UDP share the port number. */
  address: string;
  state: MemberState;
  incarnation: number;
  meta: NodeMeta | null;
  /** Wall-clock ms of the last state change. */
  lastChange: number;
}
