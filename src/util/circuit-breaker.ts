/**
 * The one circuit breaker primitive (RPC endpoints, RPC nodes and the Redis cache level all
 * use it, with their own options).
 *
 *   closed ──failure rate ≥ failureRate over windowMs, with ≥ minCalls calls──▶ open
 *   open ──openMs elapsed──▶ half-open: at most halfOpenMax probe calls at once;
 *                            a probe succeeds ▶ closed (window cleared), fails ▶ open again.
 *
 * The window is a ring of BUCKETS time buckets, so recording and reading are O(1) and old
 * outcomes fall out as time passes (a burst of failures an hour ago counts for nothing).
 * A rate with a minimum number of calls, rather than N consecutive failures, keeps one
 * unlucky caller from opening a breaker that serves everyone (Moleculer's rule).
 * Every time reading goes through the injected clock: exact on a FakeClock.
 */
import type { Clock } from "./clock.js";

export type BreakerState = "closed" | "open" | "half-open";

export interface BreakerOptions {
  /** Share of failed calls (0..1] in the window that opens the breaker. */
  failureRate?: number;
  /** Calls the window must hold before its failure rate counts. */
  minCalls?: number;
  /** Length of the sliding window (ms). */
  windowMs?: number;
  /** How long an open breaker refuses calls before letting probes through (ms). */
  openMs?: number;
  /** Probe calls allowed at once while half-open. */
  halfOpenMax?: number;
}

/** Moleculer's defaults (0.5 over 20 calls in 60 s, half-open after 10 s). */
export const DEFAULT_BREAKER_OPTIONS: Required<BreakerOptions> = {
  failureRate: 0.5,
  minCalls: 20,
  windowMs: 60_000,
  openMs: 10_000,
  halfOpenMax: 1,
};

const BUCKETS = 10;

export class CircuitBreaker {
  private readonly options: Required<BreakerOptions>;
  private readonly bucketMs: number;
  /** Per bucket: its index in time (floor(now / bucketMs)), calls and failures. */
  private readonly slots = new Float64Array(BUCKETS);
  private readonly calls = new Uint32Array(BUCKETS);
  private readonly failures = new Uint32Array(BUCKETS);
  private opened = false;
  private openedAt = 0;
  private probes = 0;

  constructor(
    private readonly clock: Clock,
    options: BreakerOptions = {},
  ) {
    this.options = { ...DEFAULT_BREAKER_OPTIONS, ...options };
    this.bucketMs = Math.max(1, this.options.windowMs / BUCKETS);
    this.slots.fill(-1);
  }

  get state(): BreakerState {
    if (!this.opened) return "closed";
    return this.clock.now() - this.openedAt >= this.options.openMs ? "half-open" : "open";
  }

  /** May a call go out now? In half-open a `true` reserves a probe slot: report its outcome (or release()). */
  tryAcquire(): boolean {
    const state = this.state;
    if (state === "closed") return true;
    if (state === "open" || this.probes >= this.options.halfOpenMax) return false;
    this.probes++;
    return true;
  }

  /** A call succeeded; true when this closed the breaker. */
  success(): boolean {
    if (this.opened) {
      if (this.state === "open") return false; // a late answer from before it opened
      this.reset();
      return true;
    }
    this.record(false);
    return false;
  }

  /** A call failed; true when this opened (or reopened) the breaker. */
  failure(): boolean {
    if (this.opened) {
      if (this.state === "open") return false;
      this.trip();
      return true;
    }
    this.record(true);
    const { calls, failures } = this.totals();
    if (calls >= this.options.minCalls && failures >= calls * this.options.failureRate) {
      this.trip();
      return true;
    }
    return false;
  }

  /** A reserved probe slot was not used (the call never went out). */
  release(): void {
    if (this.probes > 0) this.probes--;
  }

  /** Forces it open, e.g. when the connection is known to be gone. */
  trip(): void {
    this.opened = true;
    this.openedAt = this.clock.now();
    this.probes = 0;
  }

  /** Closed with an empty window. */
  reset(): void {
    this.opened = false;
    this.probes = 0;
    this.slots.fill(-1);
    this.calls.fill(0);
    this.failures.fill(0);
  }

  /** Calls and failures in the current window. */
  totals(): { calls: number; failures: number } {
    const current = Math.floor(this.clock.now() / this.bucketMs);
    let calls = 0;
    let failures = 0;
    for (let i = 0; i < BUCKETS; i++) {
      if (current - this.slots[i]! < BUCKETS) {
        calls += this.calls[i]!;
        failures += this.failures[i]!;
      }
    }
    return { calls, failures };
  }

  private record(failed: boolean): void {
    const slot = Math.floor(this.clock.now() / this.bucketMs);
    const i = slot % BUCKETS;
    if (this.slots[i] !== slot) {
      this.slots[i] = slot;
      this.calls[i] = 0;
      this.failures[i] = 0;
    }
    this.calls[i]!++;
    if (failed) this.failures[i]!++;
  }
}
