import type { MembershipSource } from "../cluster/registry.js";
import type { MemberView, NodeMeta } from "../cluster/types.js";

/** A membership of one (for router and registry tests without a network). */
export class SingleNodeMembership implements MembershipSource {
  private readonly listeners = new Set<() => void>();
  private view: MemberView;

  constructor(readonly localId: string, address: string, meta: NodeMeta) {
    this.view = { nodeId: localId, address, state: "alive", incarnation: 0, meta, lastChange: Date.now() };
  }

  members(): MemberView[] {
    return [this.view];
  }

  updateMeta(meta: NodeMeta): void {
    this.view = { ...this.view, meta, incarnation: this.view.incarnation + 1 };
    for (const l of this.listeners) l();
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
