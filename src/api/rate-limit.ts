import { LruMap } from "../util/lru-map.js";

/** Keys tracked at once; the least recently used bucket is dropped first (it was likely full). */
const DEFAULT_MAX_KEYS = 100_000;

interface Bucket {
  tokens: number;
  at: number;
}

export interface RateLimiterOptions {
  /** Tokens added per second. */
  ratePerSecond: number;
  /** Bucket size: the burst allowed after a quiet period (default one second's worth). */
  burst?: number;
  now: () => number;
  maxKeys?: number;
}

/**
 * Token buckets by key in a bounded table. Keys must be things a caller cannot mint at will
 * (a credential, a source address): a fresh key is a fresh, full bucket.
 */
export class RateLimiter {
  private readonly buckets: LruMap<string, Bucket>;
  private readonly rate: number;
  private readonly burst: number;
  private readonly now: () => number;

  constructor(options: RateLimiterOptions) {
    this.rate = options.ratePerSecond;
    this.burst = options.burst ?? Math.max(1, options.ratePerSecond);
    this.now = options.now;
    this.buckets = new LruMap<string, Bucket>(options.maxKeys ?? DEFAULT_MAX_KEYS);
  }

  /** True if one unit may be spent now (and spends it). */
  take(key: string): boolean {
    const bucket = this.refill(key);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  /** True if a unit is available, without spending it. */
  allows(key: string): boolean {
    return this.refill(key).tokens >= 1;
  }

  /**
   * Spends a unit that is not there: the bucket goes negative (down to −burst), so a caller
   * that keeps knocking while refused stays refused longer instead of getting in every second.
   */
  penalize(key: string): void {
    const bucket = this.refill(key);
    bucket.tokens = Math.max(-this.burst, bucket.tokens - 1);
  }

  /** Seconds until the next unit is available (for Retry-After). */
  retryAfterSeconds(key: string): number {
    const bucket = this.refill(key);
    return bucket.tokens >= 1 ? 0 : Math.ceil((1 - bucket.tokens) / this.rate);
  }

  private refill(key: string): Bucket {
    const t = this.now();
    let bucket = this.buckets.get(key);
    if (!bucket) {
      bucket = { tokens: this.burst, at: t };
      this.buckets.set(key, bucket);
    }
    bucket.tokens = Math.min(this.burst, bucket.tokens + ((t - bucket.at) / 1000) * this.rate);
    bucket.at = t;
    return bucket;
  }
}
