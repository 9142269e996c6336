/**
 * Per-node call statistics shared by the least-latency balancer and metrics: calls in
 * flight and an EWMA of observed latency. The EWMA forgets: the longer a node goes
 * unobserved, the more its value slides back to the "prior" — the median of every known
 * node's EWMA — so a node that was slow once gets tried again, and a node never seen
 * scores like a typical node. The median keeps one very slow node from dragging the
 * prior up; it is recomputed when a node is first seen and at most once per
 * `priorRefreshMs` otherwise, so reads stay O(1).
 */
import type { Clock } from "../../util/clock.js";

export interface NodeStatsOptions {
  /** Weight of a new sample in a node's EWMA (0..1]. */
  alpha?: number;
  /** Prior latency (ms) until anything has been observed anywhere. */
  initialPriorMs?: number;
  /** Time constant (ms) of the slide back to the prior when a node goes unobserved. */
  decayMs?: number;
  /** A failed call counts as at least this latency, or as 4 × the prior when unset. */
  failurePenaltyMs?: number;
  /** How often (ms) the prior follows the nodes' EWMAs. */
  priorRefreshMs?: number;
}

export interface NodeSnapshot {
  inflight: number;
  /** Current (decayed) latency estimate in ms. */
  ewmaMs: number;
  calls: number;
  failures: number;
}

/** Returned by start(): report the outcome exactly once. */
export interface CallToken {
  /** The call ended; latency defaults to the clock time since start(). */
  done(ok: boolean, latencyMs?: number): void;
  /** The call never went out (refused locally): release in-flight, no latency sample. */
  abandon(): void;
}

/** @internal Per-node numbers. */
export interface Entry {
  inflight: number;
  ewmaMs: number;
  lastSeen: number;
  seen: boolean;
  calls: number;
  failures: number;
}

export class NodeStats {
  private readonly nodes = new Map<string, Entry>();
  private readonly alpha: number;
  private readonly decayMs: number;
  private readonly penaltyMs: number | undefined;
  private readonly initialPriorMs: number;
  private readonly priorRefreshMs: number;
  /** The neutral prior (see top); read through prior(). */
  private priorMs: number;
  private priorAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly clock: Clock,
    options: NodeStatsOptions = {},
  ) {
    this.alpha = options.alpha ?? 0.3;
    this.decayMs = options.decayMs ?? 30_000;
    this.initialPriorMs = options.initialPriorMs ?? 10;
    this.priorMs = this.initialPriorMs;
    this.priorRefreshMs = options.priorRefreshMs ?? 1000;
    this.penaltyMs = options.failurePenaltyMs;
  }

  start(nodeId: string): CallToken {
    const entry = this.entry(nodeId);
    entry.inflight++;
    return new InflightCall(this, entry, this.clock.now());
  }

  inflight(nodeId: string): number {
    return this.nodes.get(nodeId)?.inflight ?? 0;
  }

  /** Latency estimate in ms: the node's decayed EWMA, or the prior if never observed. */
  latency(nodeId: string): number {
    const now = this.clock.now();
    const entry = this.nodes.get(nodeId);
    return entry ? this.decayed(entry, now) : this.prior(now);
  }

  /**
   * Lower is better: expected latency scaled by the queue the call would join.
   * `now` lets a caller comparing several nodes read the clock once.
   */
  score(nodeId: string, now: number = this.clock.now()): number {
    const entry = this.nodes.get(nodeId);
    if (!entry) return this.prior(now);
    return this.decayed(entry, now) * (entry.inflight + 1);
  }

  snapshot(nodeId: string): NodeSnapshot {
    const now = this.clock.now();
    const entry = this.nodes.get(nodeId);
    if (!entry) return { inflight: 0, ewmaMs: this.prior(now), calls: 0, failures: 0 };
    return { inflight: entry.inflight, ewmaMs: this.decayed(entry, now), calls: entry.calls, failures: entry.failures };
  }

  nodeIds(): string[] {
    return [...this.nodes.keys()];
  }

  /** Drop a node that left the cluster (calls still in flight report into the void). */
  forget(nodeId: string): void {
    this.nodes.delete(nodeId);
    this.priorAt = Number.NEGATIVE_INFINITY;
  }

  /** The neutral latency (ms) of a node never observed. */
  prior(now: number = this.clock.now()): number {
    if (now - this.priorAt >= this.priorRefreshMs) {
      this.priorAt = now;
      const values: number[] = [];
      for (const entry of this.nodes.values()) if (entry.seen) values.push(entry.ewmaMs);
      if (values.length > 0) {
        values.sort((a, b) => a - b);
        const mid = values.length >> 1;
        this.priorMs = values.length % 2 === 1 ? values[mid]! : (values[mid - 1]! + values[mid]!) / 2;
      } else {
        this.priorMs = this.initialPriorMs;
      }
    }
    return this.priorMs;
  }

  private entry(nodeId: string): Entry {
    let entry = this.nodes.get(nodeId);
    if (!entry) {
      entry = { inflight: 0, ewmaMs: this.priorMs, lastSeen: this.clock.now(), seen: false, calls: 0, failures: 0 };
      this.nodes.set(nodeId, entry);
    }
    return entry;
  }

  /** The stats' clock time, for callers that score several nodes at once. */
  now(): number {
    return this.clock.now();
  }

  private decayed(entry: Entry, now: number): number {
    if (!entry.seen) return this.prior(now);
    const idle = now - entry.lastSeen;
    if (idle <= 0) return entry.ewmaMs;
    const prior = this.prior(now);
    return prior + (entry.ewmaMs - prior) * Math.exp(-idle / this.decayMs);
  }

  /** @internal Called by InflightCall.done. */
  observe(entry: Entry, ok: boolean, latencyMs: number, now: number): void {
    let sample = latencyMs > 0 ? latencyMs : 0;
    entry.calls++;
    if (!ok) {
      entry.failures++;
      sample = Math.max(sample, this.penaltyMs ?? this.prior(now) * 4);
    }
    if (entry.seen) {
      const base = this.decayed(entry, now);
      entry.ewmaMs = base + this.alpha * (sample - base);
    } else {
      entry.ewmaMs = sample;
      entry.seen = true;
      this.priorAt = Number.NEGATIVE_INFINITY; // a new node moves the median now
    }
    entry.lastSeen = now;
  }
}

/** A class rather than closures: one small object per call on the hot path. */
class InflightCall implements CallToken {
  private open = true;

  constructor(
    private readonly stats: NodeStats,
    private readonly entry: Entry,
    private readonly startedAt: number,
  ) {}

  done(ok: boolean, latencyMs?: number): void {
    if (!this.open) return;
    this.open = false;
    this.entry.inflight--;
    const now = this.stats.now();
    this.stats.observe(this.entry, ok, latencyMs ?? now - this.startedAt, now);
  }

  abandon(): void {
    if (!this.open) return;
    this.open = false;
    this.entry.inflight--;
  }
}
