/**
 * L1: a per-node LRU bounded by entry count AND approximate bytes, with a TTL per entry.
 * Entries hold the JSON text, not the object: a caller mutating a result cannot corrupt
 * the cache, and an L1 hit returns exactly what an L2 hit would (a JSON round trip).
 */
import { LRUCache } from "lru-cache";
import { systemClock, type Clock } from "../util/clock.js";
import {
  noopMetrics,
  selectorMatches,
  toStoredEntry,
  type Cache,
  type CacheMetricsSink,
  type InvalidationSelector,
  type SetOptions,
  type StoredEntry,
} from "./cache.js";

export interface MemoryCacheOptions {
  /** Most entries kept (default 10 000). */
  maxEntries?: number;
  /** Most bytes kept, counted as key length + JSON length (default 64 MiB). */
  maxBytes?: number;
  clock?: Clock;
  metrics?: CacheMetricsSink;
}

/** Rough per-entry overhead so that many tiny entries still count against maxBytes. */
const ENTRY_OVERHEAD = 64;

export class MemoryCache implements Cache {
  private readonly lru: LRUCache<string, StoredEntry>;
  private readonly metrics: CacheMetricsSink;
  private evicted = 0;

  constructor(options: MemoryCacheOptions = {}) {
    const clock = options.clock ?? systemClock;
    this.metrics = options.metrics ?? noopMetrics;
    const maxBytes = options.maxBytes ?? 64 * 1024 * 1024;
    this.lru = new LRUCache<string, StoredEntry>({
      max: options.maxEntries ?? 10_000,
      maxSize: maxBytes,
      // An entry bigger than the whole budget is refused instead of flushing everything.
      maxEntrySize: maxBytes,
      sizeCalculation: (entry, key) => key.length + entry.json.length + ENTRY_OVERHEAD,
      // +1: lru-cache treats a start time of 0 as "no TTL", and a FakeClock starts at 0.
      perf: { now: () => clock.now() + 1 },
      // lru-cache caches now() for ttlResolution ms on a real timer; a fake clock must be read every time.
      ttlResolution: clock === systemClock ? 1 : 0,
      allowStale: false,
      updateAgeOnGet: false,
      dispose: (_value, _key, reason) => {
        if (reason === "evict") {
          this.evicted++;
          this.metrics.eviction("l1");
        }
      },
    });
  }

  /** Entries dropped to respect the bounds since creation. */
  get evictions(): number {
    return this.evicted;
  }

  get size(): number {
    return this.lru.size;
  }

  get bytes(): number {
    return this.lru.calculatedSize;
  }

  getEntry(key: string): StoredEntry | undefined {
    const entry = this.lru.get(key);
    this.metrics.request("l1", entry ? "hit" : "miss");
    return entry;
  }

  /** Milliseconds left for key, or 0 when absent/expired. */
  remainingTtl(key: string): number {
    const left = this.lru.getRemainingTTL(key);
    return Number.isFinite(left) && left > 0 ? left : 0;
  }

  setEntry(key: string, entry: StoredEntry, ttlMs: number): void {
    if (!(ttlMs > 0)) {
      this.lru.delete(key);
      return;
    }
    this.lru.set(key, entry, { ttl: Math.ceil(ttlMs) });
  }

  delete(key: string): boolean {
    return this.lru.delete(key);
  }

  invalidateLocal(selector: InvalidationSelector): number {
    if ("key" in selector) return this.lru.delete(selector.key) ? 1 : 0;
    const doomed: string[] = [];
    // entries() skips expired ones: an expired entry is gone already, not dropped by us.
    for (const [key, entry] of this.lru.entries()) {
      if (selectorMatches(selector, key, entry.tags)) doomed.push(key);
    }
    for (const key of doomed) this.lru.delete(key);
    return doomed.length;
  }

  clear(): void {
    this.lru.clear();
  }

  async get<T>(key: string): Promise<T | undefined> {
    const entry = this.getEntry(key);
    return entry ? (JSON.parse(entry.json) as T) : undefined;
  }

  async set<T>(key: string, value: T, options: SetOptions): Promise<void> {
    const entry = toStoredEntry(value, options.tags);
    if (entry) this.setEntry(key, entry, options.ttlMs);
    else this.lru.delete(key);
  }

  async del(key: string): Promise<void> {
    this.lru.delete(key);
  }

  async invalidate(selector: InvalidationSelector): Promise<number> {
    return this.invalidateLocal(selector);
  }

  async close(): Promise<void> {
    this.lru.clear();
  }
}
