// The last 15 minutes of the 1 s metrics snapshots, in fixed-size rings: memory stays bounded
// whatever runs for how long (methods unseen for a whole window are dropped).

export const FIELDS = ["calls_per_s", "errors_per_s", "p50_ms", "p99_ms"];
/** Cluster-wide series kept beside the per-method ones. */
export const TOTAL = "*";
const TOTAL_FIELDS = ["calls_per_s", "errors_per_s", "hit_ratio"];

export class MetricsHistory {
  constructor(capacity = 900) {
    this.capacity = capacity;
    this.times = new Float64Array(capacity);
    this.count = 0; // snapshots written so far (the ring holds min(count, capacity))
    this.series = new Map(); // key → { values: Float64Array[], lastSeen }
    this.total = TOTAL_FIELDS.map(() => new Float64Array(capacity).fill(NaN));
  }

  get length() {
    return Math.min(this.count, this.capacity);
  }

  /** Adds one /cluster/metrics snapshot. */
  push(snapshot) {
    const slot = this.count % this.capacity;
    const t = Date.parse(snapshot.generated_at);
    this.times[slot] = (Number.isFinite(t) ? t : Date.now()) / 1000;
    for (const s of this.series.values()) for (const v of s.values) v[slot] = NaN;
    let calls = 0;
    let errors = 0;
    for (const m of snapshot.services ?? []) {
      const key = `${m.service}.${m.method}`;
      let s = this.series.get(key);
      if (!s) {
        s = { values: FIELDS.map(() => new Float64Array(this.capacity).fill(NaN)), lastSeen: 0 };
        this.series.set(key, s);
      }
      s.lastSeen = this.count;
      FIELDS.forEach((f, i) => (s.values[i][slot] = typeof m[f] === "number" ? m[f] : NaN));
      calls += m.calls_per_s || 0;
      errors += m.errors_per_s || 0;
    }
    const cache = snapshot.cache;
    const ratio = cache && cache.hits + cache.misses > 0 ? cache.hit_ratio : null;
    this.total[0][slot] = calls;
    this.total[1][slot] = errors;
    this.total[2][slot] = typeof ratio === "number" ? ratio : NaN;
    this.count += 1;
    for (const [key, s] of this.series) if (this.count - s.lastSeen > this.capacity) this.series.delete(key);
  }

  keys() {
    return [...this.series.keys()].sort();
  }

  /** The ring's slots oldest first. */
  order() {
    const n = this.length;
    const first = this.count - n;
    return Array.from({ length: n }, (_, i) => (first + i) % this.capacity);
  }

  column(values, order) {
    return order.map((slot) => (Number.isNaN(values[slot]) ? null : values[slot]));
  }

  /** uPlot data: [times, ...one array per (key, field)]; key TOTAL names the cluster totals. */
  data(pairs) {
    const order = this.order();
    const cols = [order.map((slot) => this.times[slot])];
    for (const [key, field] of pairs) {
      const values = key === TOTAL ? this.total[TOTAL_FIELDS.indexOf(field)] : this.series.get(key)?.values[FIELDS.indexOf(field)];
      cols.push(values ? this.column(values, order) : order.map(() => null));
    }
    return cols;
  }

  /** The newest value of a series (null when absent). */
  latest(key, field) {
    if (this.count === 0) return null;
    const slot = (this.count - 1) % this.capacity;
    const values = key === TOTAL ? this.total[TOTAL_FIELDS.indexOf(field)] : this.series.get(key)?.values[FIELDS.indexOf(field)];
    const v = values?.[slot];
    return v === undefined || Number.isNaN(v) ? null : v;
  }

  /** Keys with the most calls over the kept window, busiest first. */
  busiest(n) {
    const sums = [];
    for (const [key, s] of this.series) {
      let sum = 0;
      for (const v of s.values[0]) if (!Number.isNaN(v)) sum += v;
      sums.push([key, sum]);
    }
    return sums.sort((a, b) => b[1] - a[1]).slice(0, n).map(([key]) => key);
  }
}
