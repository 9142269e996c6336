/**
 * Membership as the pipeline's health signal (NodeHealth): an attempt in flight on a node
 * that turns suspect, dead or left is told at once (the pipeline then starts a second
 * attempt of an idempotent call elsewhere), and a node that membership sees alive again
 * gets its node-level breaker closed (membership confirms reachability).
 */
import type { MemberState, MemberView } from "../cluster/types.js";
import type { NodeHealth } from "./pipeline.js";

export interface MemberSource {
  members(): MemberView[];
}

interface Watch {
  /** The node's state when the watch began: a call knowingly sent to a suspect node waits for worse. */
  from: MemberState | undefined;
  onTrouble: () => void;
}

export class MemberHealth implements NodeHealth {
  private states = new Map<string, MemberState>();
  private readonly watches = new Map<string, Set<Watch>>();

  constructor(
    private readonly source: MemberSource,
    /** A node came back to alive (from suspect, dead or left). */
    private readonly onAlive: (nodeId: string) => void,
  ) {}

  /** Call after every membership change. */
  update(): void {
    const next = new Map<string, MemberState>();
    for (const m of this.source.members()) {
      next.set(m.nodeId, m.state);
      const previous = this.states.get(m.nodeId);
      if (m.state === "alive" && previous !== undefined && previous !== "alive") this.onAlive(m.nodeId);
    }
    this.states = next;
    for (const [nodeId, watches] of this.watches) {
      const state = next.get(nodeId);
      if (state === "alive") continue;
      for (const w of watches) {
        if (state !== w.from) {
          watches.delete(w);
          w.onTrouble();
        }
      }
      if (watches.size === 0) this.watches.delete(nodeId);
    }
  }

  watch(nodeId: string, onTrouble: () => void): () => void {
    const w: Watch = { from: this.states.get(nodeId) ?? "alive", onTrouble };
    let set = this.watches.get(nodeId);
    if (set === undefined) this.watches.set(nodeId, (set = new Set()));
    set.add(w);
    return () => {
      const current = this.watches.get(nodeId);
      if (current?.delete(w) && current.size === 0) this.watches.delete(nodeId);
    };
  }
}
