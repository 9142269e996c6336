/**
 * What the least-latency balancer knows, shared with the pipeline (which records outcomes):
 * calls in flight per node, and a peak-EWMA of latency per endpoint (node × service × method),
 * as Finagle and Linkerd keep it:
 *
 * - a sample above the current estimate replaces it (peaks count at once);
 * - a lower sample pulls it down as a continuous-time EWMA: weight exp(-Δt/τ) on the old value;
 * - read between samples, the estimate decays towards zero with the same τ, so a node that was
 *   slow once is tried again after about τ·ln(slow/fast) — a few seconds at most — and one
 *   fresh sample tells whether it recovered; two equal nodes alternate even for sequential calls;
 * - a first sample of an endpoint above what the other nodes show for the same method is
 *   blended with it (a first call pays connect + handshake, it must not brand the node slow);
 * - an endpoint never seen reads as that mean (or DEFAULT_PRIOR_MS), so it gets tried.
 *
 * Score (lower wins) = (estimate + FLOOR_MS) × (in-flight on the node + 1): the floor keeps
 * in-flight counts meaningful when estimates decay to ~0, so concurrent calls spread.
 * The caller's own deadline (classify.ts: deadline_exceeded) is never a sample.
 */
import type { Clock } from "../../util/clock.js";

export interface CallStatsOptions {
  /** Time constant (ms) of the EWMA and of the decay towards zero. */
  decayMs?: number;
  /** Estimate (ms) of an endpoint before anything is known about its method anywhere. */
  initialPriorMs?: number;
}

export const DEFAULT_DECAY_MS = 500;
export const DEFAULT_PRIOR_MS = 10;
/** Added to every estimate before scaling by the queue: a typical in-cluster round trip. */
const FLOOR_MS = 1;

/** Returned by start(): report the outcome exactly once. */
export interface CallToken {
  /** The call ended: "elapsed" records the clock time since start(), "penalty" a slow sample, "none" nothing. */
  done(sample: "elapsed" | "penalty" | "none"): void;
}

interface Endpoint {
  /** Estimate (ms) as of `at`. */
  cost: number;
  at: number;
}

interface NodeEntry {
  inflight: number;
  /** "service\0method" → latency estimate */
  endpoints: Map<string, Endpoint>;
}

export class CallStats {
  private readonly nodes = new Map<string, NodeEntry>();
  private readonly decayMs: number;
  private readonly initialPriorMs: number;

  constructor(
    private readonly clock: Clock,
    options: CallStatsOptions = {},
  ) {
    this.decayMs = options.decayMs ?? DEFAULT_DECAY_MS;
    this.initialPriorMs = options.initialPriorMs ?? DEFAULT_PRIOR_MS;
  }

  /** The stats' clock time, for callers that score several nodes at once. */
  now(): number {
    return this.clock.now();
  }

  start(nodeId: string, service: string, method: string): CallToken {
    const node = this.node(nodeId);
    node.inflight++;
    return new InflightCall(this, nodeId, node, keyOf(service, method), this.clock.now());
  }

  inflight(nodeId: string): number {
    return this.nodes.get(nodeId)?.inflight ?? 0;
  }

  /** Latency estimate (ms) of an endpoint now, decayed; the prior when never observed. */
  latency(nodeId: string, service: string, method: string, now: number = this.clock.now()): number {
    const key = keyOf(service, method);
    const e = this.nodes.get(nodeId)?.endpoints.get(key);
    return e ? this.read(e, now) : this.prior(key, nodeId, now);
  }

  /** The last undecayed estimate (ms), for sizing how long an attempt may reasonably take. */
  expected(nodeId: string, service: string, method: string): number | undefined {
    return this.nodes.get(nodeId)?.endpoints.get(keyOf(service, method))?.cost;
  }

  /** Lower is better: expected latency scaled by the queue the call would join. */
  score(nodeId: string, service: string, method: string, now: number = this.clock.now()): number {
    return (this.latency(nodeId, service, method, now) + FLOOR_MS) * (this.inflight(nodeId) + 1);
  }

  /** Drop a node that left the cluster (calls still in flight report into the void). */
  forget(nodeId: string): void {
    this.nodes.delete(nodeId);
  }

  /** Nodes with stats, for tests and debugging. */
  nodeIds(): string[] {
    return [...this.nodes.keys()];
  }

  /** Records one finished call's latency (InflightCall.done does; tests may directly). */
  observe(nodeId: string, key: string, sampleMs: number | "penalty", now: number): void {
    const node = this.node(nodeId);
    const e = node.endpoints.get(key);
    const prior = e ? this.read(e, now) : this.prior(key, nodeId, now);
    const sample = sampleMs === "penalty" ? Math.max(prior, this.initialPriorMs) * 4 : Math.max(0, sampleMs);
    if (e === undefined) {
      // A first sample above the prior is blended (it may include connecting); a penalty stands.
      const first = sampleMs === "penalty" || sample <= prior ? sample : (prior + sample) / 2;
      node.endpoints.set(key, { cost: first, at: now });
      return;
    }
    if (sample >= prior) e.cost = sample;
    else e.cost = sample + (e.cost - sample) * Math.exp(-Math.max(0, now - e.at) / this.decayMs);
    e.at = now;
  }

  /** @internal The entry is still the node's (not forgotten since). */
  tracks(nodeId: string, node: NodeEntry): boolean {
    return this.nodes.get(nodeId) === node;
  }

  /** @internal */
  finish(node: NodeEntry): void {
    node.inflight--;
  }

  private read(e: Endpoint, now: number): number {
    const idle = now - e.at;
    return idle > 0 ? e.cost * Math.exp(-idle / this.decayMs) : e.cost;
  }

  /** Mean estimate of the same method on the other nodes, or the initial prior. */
  private prior(key: string, except: string, now: number): number {
    let sum = 0;
    let n = 0;
    for (const [nodeId, node] of this.nodes) {
      const e = nodeId === except ? undefined : node.endpoints.get(key);
      if (e) {
        sum += this.read(e, now);
        n++;
      }
    }
    return n > 0 ? sum / n : this.initialPriorMs;
  }

  private node(nodeId: string): NodeEntry {
    let node = this.nodes.get(nodeId);
    if (node === undefined) this.nodes.set(nodeId, (node = { inflight: 0, endpoints: new Map() }));
    return node;
  }
}

function keyOf(service: string, method: string): string {
  return `${service}\u0000${method}`;
}

/** A class rather than closures: one small object per call on the hot path. */
class InflightCall implements CallToken {
  private open = true;

  constructor(
    private readonly stats: CallStats,
    private readonly nodeId: string,
    private readonly node: NodeEntry,
    private readonly key: string,
    private readonly startedAt: number,
  ) {}

  done(sample: "elapsed" | "penalty" | "none"): void {
    if (!this.open) return;
    this.open = false;
    this.stats.finish(this.node);
    if (sample === "none" || !this.stats.tracks(this.nodeId, this.node)) return; // or forgotten meanwhile
    const now = this.stats.now();
    this.stats.observe(this.nodeId, this.key, sample === "penalty" ? "penalty" : now - this.startedAt, now);
  }
}
