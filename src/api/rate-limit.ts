/**
 * Per-caller token buckets for /rpc (off unless P2P_RATE_LIMIT / --rate-limit is set):
 * each caller may make `ratePerSecond` calls per second on average, bursts up to one second's worth.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private static readonly MAX_TRACKED = 100_000;

  constructor(
    private readonly ratePerSecond: number,
    private readonly now: () => number,
  ) {}

  /** True if the call may go ahead. */
  take(key: string): boolean {
    const t = this.now();
    let bucket = this.buckets.get(key);
    if (!bucket) {
      if (this.buckets.size >= RateLimiter.MAX_TRACKED) this.buckets.clear();
      bucket = { tokens: this.ratePerSecond, at: t };
      this.buckets.set(key, bucket);
    }
    bucket.tokens = Math.min(this.ratePerSecond, bucket.tokens + ((t - bucket.at) / 1000) * this.ratePerSecond);
    bucket.at = t;
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }
}
