import type { Clock } from "../util/clock.js";
import type { MemberView } from "../cluster/types.js";
import { cacheTotals, type CacheFigures } from "./cache-figures.js";
import { addSparse, BIN_COUNT, quantileMs, round } from "./latency-bins.js";
import { WINDOW_S, type MethodRow } from "./method-window.js";
import type { ProcessFigures } from "./process-sampler.js";
import { parseSnapshot, type NodeSnapshot } from "./snapshot.js";

export interface NodeMetricsRow {
  node_id: string;
  role: string;
  state: string;
  /** True when the node did not answer in time: its figures are the last ones known, or null. */
  stale: boolean;
  error?: string;
  process: ProcessFigures | null;
  methods: (MethodRow & { calls: number; errors: number })[];
  cache: CacheFigures | null;
}

/** The /cluster/metrics body (also the data of `metrics` events). */
export interface ClusterMetricsBody {
  generated_at: string;
  window_s: number;
  nodes: NodeMetricsRow[];
  services: MethodRow[];
  cache: CacheFigures;
}

export interface ClusterMetricsDeps {
  localId: string;
  members(): MemberView[];
  localSnapshot(): Promise<NodeSnapshot>;
  /** Asks a peer for its snapshot over the peer link, bounded by timeoutMs. */
  fetchSnapshot(member: MemberView, timeoutMs: number): Promise<unknown>;
  clock: Clock;
  /** How long the asked node waits for the others. */
  timeoutMs: number;
}

/** A gather this recent is reused: a burst of requests shares one round instead of one fan-out each. */
const REUSE_MS = 100;

/**
 * Gathers every live node's figures over the peer link, in parallel and bounded in time; a node
 * that does not answer in time is marked stale and never delays the answer further.
 */
export class ClusterMetrics {
  private running: Promise<ClusterMetricsBody> | null = null;
  private last: { at: number; body: ClusterMetricsBody } | null = null;
  /** The last snapshot each node answered with, shown (stale) when it misses a round. */
  private readonly lastKnown = new Map<string, NodeSnapshot>();

  constructor(private readonly deps: ClusterMetricsDeps) {}

  gather(): Promise<ClusterMetricsBody> {
    const { clock } = this.deps;
    if (this.last && clock.now() - this.last.at < REUSE_MS) return Promise.resolve(this.last.body);
    if (!this.running) {
      this.running = this.round().finally(() => {
        this.running = null;
      });
    }
    return this.running;
  }

  private async round(): Promise<ClusterMetricsBody> {
    const members = this.deps.members().filter((m) => m.state === "alive" || m.state === "suspect");
    const results = await Promise.all(members.map((m) => this.nodeRow(m)));
    const present = new Set(members.map((m) => m.nodeId));
    for (const id of this.lastKnown.keys()) if (!present.has(id)) this.lastKnown.delete(id);
    const rows = results.map((r) => r.row).sort((a, b) => a.node_id.localeCompare(b.node_id));
    const body = aggregate(rows, results.map((r) => r.fresh));
    this.last = { at: this.deps.clock.now(), body };
    return body;
  }

  private async nodeRow(member: MemberView): Promise<{ row: NodeMetricsRow; fresh: NodeSnapshot | null }> {
    const base = { node_id: member.nodeId, role: member.meta?.role ?? "worker", state: member.state };
    try {
      const snapshot = member.nodeId === this.deps.localId ? await this.deps.localSnapshot() : await this.remote(member);
      this.lastKnown.set(member.nodeId, snapshot);
      return { row: { ...base, stale: false, process: snapshot.process, methods: snapshot.methods.map(publicRow), cache: snapshot.cache }, fresh: snapshot };
    } catch (err) {
      const known = this.lastKnown.get(member.nodeId);
      const row: NodeMetricsRow = {
        ...base,
        stale: true,
        error: err instanceof Error ? err.message : String(err),
        process: known?.process ?? null,
        methods: known ? known.methods.map(publicRow) : [],
        cache: known?.cache ?? null,
      };
      return { row, fresh: null };
    }
  }

  private async remote(member: MemberView): Promise<NodeSnapshot> {
    const { clock, timeoutMs } = this.deps;
    let timer: { cancel(): void } | undefined;
    // The link times the call out too; this guard bounds the round whatever happens below.
    const timeout = new Promise<never>((_, reject) => {
      timer = clock.setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs + 100);
    });
    try {
      const answer = await Promise.race([this.deps.fetchSnapshot(member, timeoutMs), timeout]);
      const snapshot = parseSnapshot(answer);
      if (!snapshot) throw new Error("answered with something that is not a metrics snapshot");
      return snapshot;
    } finally {
      timer?.cancel();
    }
  }
}

function publicRow(m: NodeSnapshot["methods"][number]): NodeMetricsRow["methods"][number] {
  return { service: m.service, method: m.method, calls_per_s: m.calls_per_s, errors_per_s: m.errors_per_s, p50_ms: m.p50_ms, p99_ms: m.p99_ms, calls: m.calls, errors: m.errors };
}

/** Cluster-wide rows: rates add up; percentiles come from the nodes' merged histograms. */
function aggregate(rows: NodeMetricsRow[], fresh: (NodeSnapshot | null)[]): ClusterMetricsBody {
  const byMethod = new Map<string, { service: string; method: string; calls: number; errors: number; bins: Float64Array; total: number }>();
  let hits = 0;
  let misses = 0;
  for (const snapshot of fresh) {
    if (!snapshot) continue;
    hits += snapshot.cache.hits;
    misses += snapshot.cache.misses;
    for (const m of snapshot.methods) {
      const key = `${m.service}\u0000${m.method}`;
      let acc = byMethod.get(key);
      if (!acc) byMethod.set(key, (acc = { service: m.service, method: m.method, calls: 0, errors: 0, bins: new Float64Array(BIN_COUNT), total: 0 }));
      acc.calls += m.calls_per_s;
      acc.errors += m.errors_per_s;
      acc.total += addSparse(acc.bins, m.bins);
    }
  }
  const services = [...byMethod.values()]
    .map((a) => ({ service: a.service, method: a.method, calls_per_s: round(a.calls), errors_per_s: round(a.errors), p50_ms: quantileMs(a.bins, a.total, 0.5), p99_ms: quantileMs(a.bins, a.total, 0.99) }))
    .sort((a, b) => a.service.localeCompare(b.service) || a.method.localeCompare(b.method));
  return { generated_at: new Date().toISOString(), window_s: WINDOW_S, nodes: rows, services, cache: cacheTotals(hits, misses) };
}
