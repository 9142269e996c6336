import { describe, expect, it } from "vitest";
import { methodCacheKey, type CacheMetricsSink } from "../../../src/cache/cache.js";
import { MemoryCache } from "../../../src/cache/memory.js";
import { FakeClock } from "../../../src/util/clock.js";

function recordingMetrics() {
  const counts: Record<string, number> = {};
  const sink: CacheMetricsSink = {
    request: (level, result) => void (counts[`${level}.${result}`] = (counts[`${level}.${result}`] ?? 0) + 1),
    eviction: (level) => void (counts[`${level}.evict`] = (counts[`${level}.evict`] ?? 0) + 1),
    redisState: () => {},
  };
  return { sink, counts };
}

describe("MemoryCache (L1)", () => {
  it("an entry expires after its own TTL", async () => {
    const clock = new FakeClock(1_000);
    const cache = new MemoryCache({ clock });
    await cache.set("short", 1, { ttlMs: 100 });
    await cache.set("long", 2, { ttlMs: 1_000 });
    clock.advance(99);
    expect(await cache.get("short")).toBe(1);
    clock.advance(2);
    expect(await cache.get("short")).toBeUndefined();
    expect(await cache.get("long")).toBe(2);
    expect(cache.remainingTtl("long")).toBe(899);
    clock.advance(900);
    expect(await cache.get("long")).toBeUndefined();
  });

  it("keeps at most maxEntries, dropping the least recently used, and counts evictions", async () => {
    const { sink, counts } = recordingMetrics();
    const cache = new MemoryCache({ maxEntries: 3, clock: new FakeClock(), metrics: sink });
    for (const k of ["a", "b", "c"]) await cache.set(k, k, { ttlMs: 10_000 });
    await cache.get("a"); // a is now the most recent
    await cache.set("d", "d", { ttlMs: 10_000 });
    expect(await cache.get("b")).toBeUndefined();
    expect(await cache.get("a")).toBe("a");
    expect(await cache.get("d")).toBe("d");
    expect(cache.size).toBe(3);
    expect(cache.evictions).toBe(1);
    expect(counts["l1.evict"]).toBe(1);
    expect(counts["l1.hit"]).toBe(3);
    expect(counts["l1.miss"]).toBe(1);
  });

  it("keeps at most maxBytes of keys + JSON", async () => {
    const cache = new MemoryCache({ maxEntries: 1_000, maxBytes: 2_000, clock: new FakeClock() });
    const value = "x".repeat(300);
    for (let i = 0; i < 20; i++) await cache.set(`k${i}`, value, { ttlMs: 10_000 });
    expect(cache.bytes).toBeLessThanOrEqual(2_000);
    expect(cache.size).toBeGreaterThan(2);
    expect(cache.size).toBeLessThan(20);
    expect(await cache.get("k19")).toBe(value);
    expect(await cache.get("k0")).toBeUndefined();
    expect(cache.evictions).toBe(20 - cache.size);
  });

  it("refuses a single entry larger than the byte budget without flushing the rest", async () => {
    const cache = new MemoryCache({ maxBytes: 1_000, clock: new FakeClock() });
    await cache.set("small", 1, { ttlMs: 10_000 });
    await cache.set("huge", "y".repeat(5_000), { ttlMs: 10_000 });
    expect(await cache.get("huge")).toBeUndefined();
    expect(await cache.get("small")).toBe(1);
  });

  it("returns a JSON copy: mutating a result does not change the cache", async () => {
    const cache = new MemoryCache({ clock: new FakeClock() });
    await cache.set("k", { list: [1] }, { ttlMs: 1_000 });
    const first = await cache.get<{ list: number[] }>("k");
    first!.list.push(2);
    expect(await cache.get("k")).toEqual({ list: [1] });
  });

  it("does not store undefined, and null is a value", async () => {
    const cache = new MemoryCache({ clock: new FakeClock() });
    await cache.set("u", undefined, { ttlMs: 1_000 });
    await cache.set("n", null, { ttlMs: 1_000 });
    expect(cache.size).toBe(1);
    expect(await cache.get("n")).toBeNull();
  });

  it("invalidates by service, by method and by tag, returning the count", async () => {
    const cache = new MemoryCache({ clock: new FakeClock() });
    const opts = { ttlMs: 10_000 };
    await cache.set(methodCacheKey("math", "add", { a: 1 }), 1, opts);
    await cache.set(methodCacheKey("math", "add", { a: 2 }), 2, opts);
    await cache.set(methodCacheKey("math", "mul", { a: 1 }), 3, { ttlMs: 10_000, tags: ["t"] });
    await cache.set("s:math:own", 4, opts);
    await cache.set(methodCacheKey("other", "add", { a: 1 }), 5, { ttlMs: 10_000, tags: ["t"] });
    expect(await cache.invalidate({ service: "math", method: "add" })).toBe(2);
    expect(await cache.invalidate({ tag: "t" })).toBe(2);
    expect(await cache.invalidate({ service: "math" })).toBe(1);
    expect(cache.size).toBe(0);
  });
});
