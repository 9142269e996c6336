import { P2PError } from "../errors.js";
import type { Clock } from "../util/clock.js";
import type { CallContext } from "./context.js";

/** What a running method sees as `this.call`. */
export interface MethodCall {
  /** Fires at the caller's deadline, when the caller goes away, or once the call is over. */
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
 * One execution of a method on this node. Its AbortSignal is created on first use only (most
 * methods never look at it), follows the caller's own signal (HTTP client gone, peer link
 * cancel), and fires when the execution ends: at the deadline, or once an answer is sent.
 */
export class CallScope implements MethodCall {
  readonly context: CallContext;
  readonly deadline: number;
  private controller: AbortController | null = null;
  private endReason: unknown = null;
  private ended = false;
  private readonly onParentAbort = (): void => this.abort(callerGone(this.parent.signal?.reason));

  constructor(
    private readonly parent: CallContext,
    private readonly clock: Clock,
  ) {
    this.deadline = Math.round(Date.now() + (parent.deadline - clock.now()));
    const scope = this;
    this.context = {
      caller: parent.caller,
      deadline: parent.deadline,
      traceId: parent.traceId,
      ...(parent.traceparent ? { traceparent: parent.traceparent } : {}),
      ...(parent.balancer ? { balancer: parent.balancer } : {}),
      get signal() {
        return scope.signal;
      },
      scope,
    };
  }

  get caller(): MethodCall["caller"] {
    return this.parent.caller;
  }

  get traceId(): string {
    return this.parent.traceId;
  }

  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.ended) this.controller.abort(this.endReason);
      else if (this.parent.signal?.aborted) this.controller.abort(callerGone(this.parent.signal.reason));
      else this.parent.signal?.addEventListener("abort", this.onParentAbort, { once: true });
    }
    return this.controller.signal;
  }

  remainingMs(): number {
    return Math.max(0, Math.ceil(this.parent.deadline - this.clock.now()));
  }

  /** The execution is over (answered, failed or timed out): whoever still listens is told. */
  end(reason?: unknown): void {
    if (this.ended) return;
    this.ended = true;
    this.endReason = reason ?? new Error("the call is over");
    this.parent.signal?.removeEventListener("abort", this.onParentAbort);
    this.controller?.abort(this.endReason);
  }

  private abort(reason: unknown): void {
    this.controller?.abort(reason);
  }
}

/** Why a call stops when its caller's signal fired: the caller's own P2PError (e.g. its TIMEOUT), else "went away". */
export function callerGone(reason: unknown): P2PError {
  return reason instanceof P2PError ? reason : new P2PError("UNAVAILABLE", "call cancelled: the caller went away");
}

/** Rejects as soon as `signal` fires (the caller went away), else settles like `work`. */
export function abandonWhen<T>(work: Promise<T>, signal: AbortSignal, error: (reason: unknown) => unknown): Promise<T> {
  if (signal.aborted) {
    work.then(undefined, () => undefined);
    return Promise.reject(error(signal.reason));
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(error(signal.reason));
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(err);
      },
    );
  });
}
