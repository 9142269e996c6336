/** `this.call` and `this.cluster` inside a service's thread, built from what the node sends. */
import type { MethodCall } from "../rpc/call-scope.js";
import type { ClusterView } from "../services/cluster-view.js";
import type { CallInfo, ClusterSnapshot } from "./host-protocol.js";

/** One method execution in the thread: its signal fires at the deadline, on cancel, or when it ends. */
export class ThreadCall implements MethodCall {
  private controller: AbortController | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly info: CallInfo) {}

  get deadline(): number {
    return this.info.deadline;
  }
  get caller(): MethodCall["caller"] {
    return this.info.caller;
  }
  get traceId(): string {
    return this.info.traceId;
  }
  remainingMs(): number {
    return Math.max(0, this.info.deadline - Date.now());
  }

  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      const left = this.remainingMs();
      if (left === 0) this.abort("deadline passed");
      else this.timer = setTimeout(() => this.abort("deadline passed"), left);
    }
    return this.controller.signal;
  }

  abort(reason: string): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.controller && !this.controller.signal.aborted) this.controller.abort(new Error(reason));
  }
}

export function snapshotView(read: () => ClusterSnapshot): ClusterView {
  return Object.freeze({
    get self() {
      return read().self;
    },
    nodes: () => read().nodes,
    nodesOf: (service: string) => read().nodes.filter((n) => n.state === "alive" && n.services.includes(service)).map((n) => n.node_id),
    leader: () => read().leader,
  });
}
