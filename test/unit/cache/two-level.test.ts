import { describe, expect, it } from "vitest";
import { methodCacheKey } from "../../../src/cache/cache.js";
import { MemoryBusNetwork } from "../../../src/cache/invalidation.js";
import { ServiceCache } from "../../../src/cache/service-cache.js";
import { TwoLevelCache } from "../../../src/cache/two-level.js";
import { FakeClock } from "../../../src/util/clock.js";
import { deferred } from "../../helpers/deferred.js";


describe("TwoLevelCache without Redis", () => {
  it("reports the shared level as disabled", () => {
    expect(new TwoLevelCache().status()).toEqual({ state: "disabled" });
  });

  it("runs the loader once for 50 concurrent misses of one key", async () => {
    const cache = new TwoLevelCache({ clock: new FakeClock() });
    const gate = deferred<number>();
    let runs = 0;
    const loader = () => {
      runs++;
      return gate.promise;
    };
    const all = Promise.all(Array.from({ length: 50 }, () => cache.getOrLoad("k", 1_000, loader)));
    gate.resolve(42);
    expect(await all).toEqual(Array(50).fill(42));
    expect(runs).toBe(1);
    expect(await cache.getOrLoad("k", 1_000, loader)).toBe(42);
    expect(runs).toBe(1);
  });

  it("a waiter does not inherit a failure that belongs to the leader: it loads once itself", async () => {
    const cache = new TwoLevelCache({ clock: new FakeClock() });
    const leaderGate = deferred<number>();
    let runs = 0;
    const leader = cache.getOrLoad("k", 1_000, () => {
      runs++;
      return leaderGate.promise;
    });
    const mine = (err: unknown) => err instanceof Error && err.message === "leader's deadline";
    const waiter = cache.getOrLoad("k", 1_000, async () => {
      runs++;
      return 7;
    }, undefined, { ownFailure: mine });
    const plain = cache.getOrLoad("k", 1_000, async () => 0);
    leaderGate.reject(new Error("leader's deadline"));
    await expect(leader).rejects.toThrow("leader's deadline");
    await expect(plain).rejects.toThrow("leader's deadline"); // without the option: shared as before
    expect(await waiter).toBe(7);
    expect(runs).toBe(2);
  });

  it("never caches an error and gives it to every waiter", async () => {
    const cache = new TwoLevelCache({ clock: new FakeClock() });
    let runs = 0;
    const failing = async () => {
      runs++;
      await Promise.resolve();
      throw new Error("boom");
    };
    const results = await Promise.allSettled(Array.from({ length: 5 }, () => cache.getOrLoad("k", 1_000, failing)));
    expect(results.every((r) => r.status === "rejected" && (r.reason as Error).message === "boom")).toBe(true);
    expect(runs).toBe(1);
    expect(await cache.get("k")).toBeUndefined();
    expect(await cache.getOrLoad("k", 1_000, () => "ok")).toBe("ok");
    expect(runs).toBe(1);
  });

  it("does not cache an undefined result", async () => {
    const cache = new TwoLevelCache({ clock: new FakeClock() });
    let runs = 0;
    const loader = () => {
      runs++;
      return undefined;
    };
    expect(await cache.getOrLoad("k", 1_000, loader)).toBeUndefined();
    expect(await cache.getOrLoad("k", 1_000, loader)).toBeUndefined();
    expect(runs).toBe(2);
  });

  it("expires loaded results after their TTL", async () => {
    const clock = new FakeClock();
    const cache = new TwoLevelCache({ clock });
    let n = 0;
    const loader = () => ++n;
    expect(await cache.getOrLoad("k", 100, loader)).toBe(1);
    clock.advance(50);
    expect(await cache.getOrLoad("k", 100, loader)).toBe(1);
    clock.advance(51);
    expect(await cache.getOrLoad("k", 100, loader)).toBe(2);
  });

  it("every caller gets its own copy, equal to what a cache hit returns", async () => {
    const cache = new TwoLevelCache({ clock: new FakeClock() });
    const date = new Date(0);
    const [a, b] = await Promise.all([
      cache.getOrLoad("k", 1_000, async () => ({ at: date, list: [1] })),
      cache.getOrLoad("k", 1_000, async () => ({ at: date, list: [1] })),
    ]);
    a!.list.push(2);
    expect(b).toEqual({ at: date.toISOString(), list: [1] });
    expect(await cache.get("k")).toEqual(b);
  });

  it("an invalidation while loading keeps the stale result out of the cache", async () => {
    const cache = new TwoLevelCache({ clock: new FakeClock() });
    const gate = deferred<string>();
    const key = methodCacheKey("svc", "m", {});
    const pending = cache.getOrLoad(key, 1_000, () => gate.promise);
    await cache.invalidate({ service: "svc" });
    gate.resolve("old");
    expect(await pending).toBe("old");
    expect(await cache.get(key)).toBeUndefined();
    expect(await cache.getOrLoad(key, 1_000, () => "new")).toBe("new");
  });

  it("invalidation over a bus drops the other nodes' L1 copies and counts local drops", async () => {
    const net = new MemoryBusNetwork();
    const a = new TwoLevelCache({ bus: net.createBus(), clock: new FakeClock() });
    const b = new TwoLevelCache({ bus: net.createBus(), clock: new FakeClock() });
    const key = methodCacheKey("svc", "m", { x: 1 });
    await a.set(key, 1, { ttlMs: 10_000 });
    await b.set(key, 1, { ttlMs: 10_000 });
    await b.set("s:svc:own", 2, { ttlMs: 10_000 });
    expect(await a.invalidate({ service: "svc", method: "m" })).toBe(1);
    expect(await b.get(key)).toBeUndefined();
    expect(await b.get("s:svc:own")).toBe(2);
    await a.set("s:svc:own", 3, { ttlMs: 10_000 });
    await a.del("s:svc:own");
    expect(await b.get("s:svc:own")).toBeUndefined();
  });
});

describe("ServiceCache", () => {
  it("namespaces keys and tags by service and converts seconds", async () => {
    const clock = new FakeClock();
    const cache = new TwoLevelCache({ clock });
    const users = new ServiceCache(cache, "users");
    const orders = new ServiceCache(cache, "orders");
    await users.set("k", { v: 1 }, { ttl_s: 2, tags: ["hot"] });
    await orders.set("k", { v: 2 }, { ttl_s: 2, tags: ["hot"] });
    expect(await cache.get("s:users:k")).toEqual({ v: 1 });
    expect(await users.get("k")).toEqual({ v: 1 });
    expect(await orders.get("k")).toEqual({ v: 2 });
    expect(await users.invalidate({ tag: "hot" })).toBe(1);
    expect(await users.get("k")).toBeUndefined();
    expect(await orders.get("k")).toEqual({ v: 2 });
    clock.advance(2_001);
    expect(await orders.get("k")).toBeUndefined();
  });

  it("can invalidate a whole service, its own entries included", async () => {
    const cache = new TwoLevelCache({ clock: new FakeClock() });
    const svc = new ServiceCache(cache, "svc");
    await svc.set("a", 1, { ttl_s: 10 });
    await cache.set(methodCacheKey("svc", "m", {}), 2, { ttlMs: 10_000 });
    expect(await svc.invalidate({ service: "svc" })).toBe(2);
    await svc.set("b", 1, { ttl_s: 10 });
    await svc.del("b");
    expect(await svc.get("b")).toBeUndefined();
    await expect(svc.set("c", 1, { ttl_s: 0 })).rejects.toThrow(RangeError);
  });
});
