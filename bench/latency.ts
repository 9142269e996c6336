/**
 * Call latencies of a load loop, kept in fixed buckets of 1 µs up to 100 ms (one 400 KB array per
 * run, whatever the number of calls) instead of one array entry per call: at several hundred
 * thousand calls a second an array of every latency grows by megabytes and its garbage collection
 * becomes most of what the loop measures (seen as runs of the same process alternating between
 * 240 k and 800 k calls/s). Both sides of a comparison use this recorder.
 */
const BUCKET_US = 1;
const BUCKETS = 100_000;

export class LatencyHistogram {
  private readonly buckets = new Uint32Array(BUCKETS);
  /** Latencies past the last bucket (ms), kept exactly: a healthy run has few. */
  private readonly slow: number[] = [];
  count = 0;

  record(ms: number): void {
    this.count++;
    const bucket = Math.floor((ms * 1000) / BUCKET_US);
    if (bucket < BUCKETS) this.buckets[bucket < 0 ? 0 : bucket]++;
    else this.slow.push(ms);
  }

  /** The latency (ms) at quantile q: the upper edge of its bucket, 0 with no calls. */
  quantile(q: number): number {
    if (this.count === 0) return 0;
    const rank = Math.min(this.count - 1, Math.floor(q * this.count));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.buckets[i]!;
      if (seen > rank) return ((i + 1) * BUCKET_US) / 1000;
    }
    const sorted = [...this.slow].sort((a, b) => a - b);
    return sorted[rank - seen] ?? sorted[sorted.length - 1] ?? 0;
  }
}
