import { P2PError } from "../errors.js";
import type { Clock } from "../util/clock.js";
import { Cancellation } from "./cancellation.js";
import type { CallContext } from "./context.js";

/** What a running method sees as `this.call`. */
export interface MethodCall {
  /** Fires at the caller's deadline or when the caller goes away. */
  readonly signal: AbortSignal;
  /** When the caller stops waiting, in epoch milliseconds (compare with Date.now()). */
  readonly deadline: number;
  /** Milliseconds left before the deadline (0 once it passed). */
  remainingMs(): number;
  /** Who called: the token's subject and role ("service" for calls from other services). */
  readonly caller: { readonly sub: string; readonly role: string };
  /** W3C trace id shared by every hop of the call. */
  readonly traceId: string;
}

/**
 * One execution of a method on this node. Its Cancellation fires at the deadline or when the
 * caller's own Cancellation fires (HTTP client gone, peer link cancel, parent call abandoned);
 * calls the method makes inherit it. The AbortSignal of `this.call.signal` is created on first
 * use only.
 */
export class CallScope implements MethodCall {
  readonly context: CallContext;
  private readonly ended = new Cancellation();
  private controller: AbortController | null = null;
  private done = false;
  private wallDeadline: number | undefined;
  private readonly unsubscribe: (() => void) | null;

  /**
   * `onCallerGone`: told (after the scope ended) when the caller's Cancellation fires, with the
   * error the call answers then; the router's local path uses it instead of a second listener.
   */
  constructor(
    private readonly parent: CallContext,
    private readonly clock: Clock,
    onCallerGone?: (error: P2PError) => void,
  ) {
    // Built field by field: object spreads cost an allocation each on the per-call path.
    const context: CallContext = { caller: parent.caller, deadline: parent.deadline, traceId: parent.traceId, cancel: this.ended, scope: this };
    if (parent.traceparent) context.traceparent = parent.traceparent;
    if (parent.balancer) context.balancer = parent.balancer;
    this.context = context;
    const cancel = parent.cancel;
    this.unsubscribe = cancel
      ? cancel.onCancel((reason) => {
          const error = callerGone(reason);
          this.end(error);
          onCallerGone?.(error);
        })
      : null;
  }

  /** When the caller stops waiting, in epoch ms: read on first use (most methods never ask). */
  get deadline(): number {
    return (this.wallDeadline ??= Math.round(Date.now() + (this.parent.deadline - this.clock.now())));
  }

  get caller(): MethodCall["caller"] {
    return this.parent.caller;
  }

  get traceId(): string {
    return this.parent.traceId;
  }

  get signal(): AbortSignal {
    if (!this.controller) {
      const controller = new AbortController();
      this.controller = controller;
      this.ended.onCancel((reason) => controller.abort(reason));
    }
    return this.controller.signal;
  }

  remainingMs(): number {
    return Math.max(0, Math.ceil(this.parent.deadline - this.clock.now()));
  }

  /**
   * The execution is over. With a reason (its deadline passed, its caller went away) whoever
   * still listens is told: `this.call.signal` and the calls it started. Without one (answered,
   * or failed on its own) work it left running on purpose goes on.
   */
  end(reason?: unknown): void {
    if (this.done) return;
    this.done = true;
    this.unsubscribe?.();
    if (reason !== undefined) this.ended.cancel(reason);
  }
}

/** Why a call stops when its caller's Cancellation fired: the caller's own P2PError (e.g. its TIMEOUT), else "went away". */
export function callerGone(reason: unknown): P2PError {
  return reason instanceof P2PError ? reason : new P2PError("UNAVAILABLE", "call cancelled: the caller went away");
}
