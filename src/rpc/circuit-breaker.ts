/**
 * One circuit breaker per target node.
 *
 *   closed ──failureThreshold consecutive node faults──▶ open
 *   open ──openMs elapsed, on the next allow()──▶ half-open
 *   half-open: at most halfOpenMax probe calls at once;
 *              a probe succeeds ▶ closed, a probe fails ▶ open again (for openMs).
 *
 * Trip rule: consecutive failures, not an error rate over a window. It needs no window
 * bookkeeping on the hot path, reacts within a few calls to a dead node, and is exact on
 * a fake clock. Any success resets the count.
 *
 * What counts (failure.ts, isNodeFault): TIMEOUT and UNAVAILABLE (not_sent, node_left,
 * connection_lost, draining...) — the node did not answer. An answer, even an error the
 * method threw (INTERNAL) or a refusal (INVALID_PARAMS, FORBIDDEN...), proves the node
 * is up and counts as a success. A local refusal (bulkhead_full) proves nothing: it only
 * frees the probe slot it held.
 */
import { P2PError } from "../errors.js";
import type { Clock } from "../util/clock.js";
import { isLocalRejection, isNodeFault } from "./failure.js";

export type BreakerState = "closed" | "open" | "half-open";

export interface BreakerOptions {
  /** Consecutive node faults that open the breaker. */
  failureThreshold?: number;
  /** How long an open breaker refuses calls before letting probes through (ms). */
  openMs?: number;
  /** Probe calls allowed at once while half-open. */
  halfOpenMax?: number;
}

export interface BreakerChange {
  nodeId: string;
  from: BreakerState;
  to: BreakerState;
  /** The error that opened the breaker, when it opened. */
  cause?: P2PError;
}

export type BreakerListener = (change: BreakerChange) => void;

interface Breaker {
  state: BreakerState;
  failures: number;
  openedAt: number;
  probes: number;
}

export const DEFAULT_BREAKER_OPTIONS: Required<BreakerOptions> = {
  failureThreshold: 5,
  openMs: 10_000,
  halfOpenMax: 1,
};

export class BreakerSet {
  private readonly breakers = new Map<string, Breaker>();
  private readonly listeners: BreakerListener[] = [];
  private readonly options: Required<BreakerOptions>;

  constructor(
    private readonly clock: Clock,
    options: BreakerOptions = {},
  ) {
    this.options = { ...DEFAULT_BREAKER_OPTIONS, ...options };
  }

  /**
   * May a call go to this node now? In half-open a `true` reserves a probe slot, which
   * the call's outcome (onSuccess / onFailure) gives back: call one of them after.
   */
  allow(nodeId: string): boolean {
    const b = this.breakers.get(nodeId);
    if (b === undefined || b.state === "closed") return true;
    if (b.state === "open") {
      if (this.clock.now() - b.openedAt < this.options.openMs) return false;
      this.move(nodeId, b, "half-open");
      b.probes = 0;
    }
    if (b.probes >= this.options.halfOpenMax) return false;
    b.probes++;
    return true;
  }

  onSuccess(nodeId: string): void {
    const b = this.breakers.get(nodeId);
    if (b === undefined) return;
    b.failures = 0;
    if (b.state === "half-open") {
      b.probes = 0;
      this.move(nodeId, b, "closed");
    }
  }

  onFailure(nodeId: string, err: P2PError): void {
    if (!isNodeFault(err)) {
      if (isLocalRejection(err)) this.releaseProbe(nodeId);
      else this.onSuccess(nodeId);
      return;
    }
    let b = this.breakers.get(nodeId);
    if (b === undefined) {
      b = { state: "closed", failures: 0, openedAt: 0, probes: 0 };
      this.breakers.set(nodeId, b);
    }
    b.failures++;
    if (b.state === "half-open" || (b.state === "closed" && b.failures >= this.options.failureThreshold)) {
      b.openedAt = this.clock.now();
      b.probes = 0;
      this.move(nodeId, b, "open", err);
    }
  }

  /** Current state; an open breaker whose openMs has passed reads "half-open". */
  state(nodeId: string): BreakerState {
    const b = this.breakers.get(nodeId);
    if (b === undefined) return "closed";
    if (b.state === "open" && this.clock.now() - b.openedAt >= this.options.openMs) return "half-open";
    return b.state;
  }

  /** Every node whose breaker is not closed, for /debug and metrics. */
  notClosed(): Array<{ nodeId: string; state: BreakerState }> {
    const out: Array<{ nodeId: string; state: BreakerState }> = [];
    for (const nodeId of this.breakers.keys()) {
      const state = this.state(nodeId);
      if (state !== "closed") out.push({ nodeId, state });
    }
    return out;
  }

  /** Listen to state changes; returns the unsubscribe function. */
  onChange(listener: BreakerListener): () => void {
    this.listeners.push(listener);
    return () => {
      const i = this.listeners.indexOf(listener);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  /**
   * The error for a call refused because this node's breaker is open (e.g. a call pinned
   * to one node with `?node=`). Its reason lets the pipeline retry elsewhere.
   */
  openError(nodeId: string): P2PError {
    return new P2PError("UNAVAILABLE", `node ${nodeId} is failing; calls to it are paused`, {
      reason: "circuit_open",
      node: nodeId,
      state: this.state(nodeId),
    });
  }

  /** Forget a node that left: a returning node starts closed. */
  forget(nodeId: string): void {
    this.breakers.delete(nodeId);
  }

  private releaseProbe(nodeId: string): void {
    const b = this.breakers.get(nodeId);
    if (b !== undefined && b.state === "half-open" && b.probes > 0) b.probes--;
  }

  private move(nodeId: string, b: Breaker, to: BreakerState, cause?: P2PError): void {
    const from = b.state;
    b.state = to;
    if (from === to) return;
    const change: BreakerChange = cause ? { nodeId, from, to, cause } : { nodeId, from, to };
    for (const listener of this.listeners) {
      try {
        listener(change);
      } catch {
        // A broken listener must not break calls.
      }
    }
  }
}
