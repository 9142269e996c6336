import type { MembershipSource } from "../cluster/registry.js";
import type { MemberState, MemberView } from "../cluster/types.js";
import type { EventBus } from "./bus.js";

/** What the publisher remembers of each member to tell what changed. */
interface Seen {
  state: MemberState;
  services: Set<string>;
}

export interface MemberEventData {
  node_id: string;
  state: MemberState;
  previous: MemberState | null;
  role: string;
  address: string;
}

/** A departed member was reaped: it is no longer listed anywhere. */
export interface MemberRemovedEventData {
  node_id: string;
  previous: MemberState;
}

export interface LeaderEventData {
  leader: string | null;
  previous: string | null;
}

/**
 * Turns membership changes into `member`, `leader` and `service` events. Membership calls back
 * once per member change without saying what changed, so the publisher compares with what it
 * saw last time (one pass over the members; cheap next to the gossip that caused it).
 */
export class MembershipEventPublisher {
  private readonly seen = new Map<string, Seen>();
  private leader: string | null = null;
  private unsubscribe: (() => void) | null = null;

  constructor(
    private readonly source: MembershipSource,
    private readonly leaderOf: () => string | null,
    private readonly bus: EventBus,
  ) {}

  start(): void {
    if (this.unsubscribe) return;
    this.unsubscribe = this.source.onChange(() => this.update());
    this.update();
  }

  stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
  }

  private update(): void {
    const members = this.source.members();
    for (const m of members) this.compare(m);
    if (members.length < this.seen.size) {
      const present = new Set(members.map((m) => m.nodeId));
      for (const [nodeId, seen] of this.seen) {
        if (present.has(nodeId)) continue;
        this.seen.delete(nodeId);
        const data: MemberRemovedEventData = { node_id: nodeId, previous: seen.state };
        this.bus.publish("member_removed", data);
      }
    }
    const leader = this.leaderOf();
    if (leader !== this.leader) {
      const data: LeaderEventData = { leader, previous: this.leader };
      this.leader = leader;
      this.bus.publish("leader", data);
    }
  }

  private compare(m: MemberView): void {
    const before = this.seen.get(m.nodeId);
    const services = new Set((m.meta?.services ?? []).map((s) => s.name));
    if (!before || before.state !== m.state) {
      const data: MemberEventData = { node_id: m.nodeId, state: m.state, previous: before?.state ?? null, role: m.meta?.role ?? "worker", address: m.address };
      this.bus.publish("member", data);
    }
    if (before && m.meta) {
      for (const name of services) if (!before.services.has(name)) this.bus.publish("service", { node_id: m.nodeId, service: name, status: "running" });
      for (const name of before.services) if (!services.has(name)) this.bus.publish("service", { node_id: m.nodeId, service: name, status: "stopped" });
    }
    this.seen.set(m.nodeId, { state: m.state, services: m.meta ? services : (before?.services ?? services) });
  }
}
