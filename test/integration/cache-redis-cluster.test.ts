import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { methodCacheKey } from "../../src/cache/cache.js";
import { RedisInvalidationBus } from "../../src/cache/invalidation.js";
import { RedisCache } from "../../src/cache/redis.js";
import { TwoLevelCache } from "../../src/cache/two-level.js";
import { startRedisCluster, type RedisClusterHandle } from "../helpers/redis-server.js";

let cluster: RedisClusterHandle;
const nodes: TwoLevelCache[] = [];

beforeAll(async () => {
  cluster = await startRedisCluster(3);
  for (const id of ["a", "b"]) {
    const l2 = new RedisCache({ target: cluster.url, namespace: "ct" });
    const bus = new RedisInvalidationBus(l2, { originId: id });
    nodes.push(new TwoLevelCache({ l2, bus }));
    expect(await l2.waitUntilUp(5_000)).toBe(true);
    expect(await bus.ready(5_000)).toBe(true);
  }
}, 30_000);

afterAll(async () => {
  await Promise.all(nodes.map((n) => n.close()));
  await cluster?.stop();
});

async function eventually(check: () => boolean, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("two-level cache over a Redis Cluster (redis+cluster://)", () => {
  it("shares entries, invalidates by method across every master, by tag across slots, and over pub/sub", async () => {
    const [a, b] = nodes as [TwoLevelCache, TwoLevelCache];
    const keys = Array.from({ length: 60 }, (_, i) => methodCacheKey("geo", i % 2 ? "near" : "far", { i }));
    for (const [i, key] of keys.entries()) await a.set(key, i, { ttlMs: 60_000, tags: i % 3 === 0 ? ["third"] : undefined });
    for (const [i, key] of keys.entries()) expect(await b.get(key)).toBe(i);

    expect(await a.invalidate({ service: "geo", method: "near" })).toBe(30);
    await eventually(() => keys.every((k, i) => i % 2 === 0 || b.l1.remainingTtl(k) === 0), 1_000);
    b.l1.clear();
    for (const [i, key] of keys.entries()) expect(await b.get(key)).toBe(i % 2 ? undefined : i);

    await a.invalidate({ tag: "third" });
    b.l1.clear();
    for (const [i, key] of keys.entries()) expect(await b.get(key)).toBe(i % 2 || i % 3 === 0 ? undefined : i);
  });

  it("the cross-node lock works on a cluster too", async () => {
    const [a, b] = nodes as [TwoLevelCache, TwoLevelCache];
    let runs = 0;
    const loader = async () => {
      runs++;
      await new Promise((r) => setTimeout(r, 100));
      return "v";
    };
    const key = methodCacheKey("geo", "slow", {});
    const all = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).getOrLoad(key, 10_000, loader)));
    expect(all.every((v) => v === "v")).toBe(true);
    expect(runs).toBeLessThanOrEqual(2);
  });
});
