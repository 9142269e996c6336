import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { methodCacheKey, type CacheMetricsSink } from "../../src/cache/cache.js";
import { createNodeCache } from "../../src/cache/index.js";
import { RedisInvalidationBus } from "../../src/cache/invalidation.js";
import { RedisCache, type RedisStatus } from "../../src/cache/redis.js";
import { TwoLevelCache } from "../../src/cache/two-level.js";
import { freePort, startRedis, type RedisServerHandle } from "../helpers/redis-server.js";

let redis: RedisServerHandle;
let open: TwoLevelCache[] = [];
let namespaceSeq = 0;

beforeAll(async () => {
  redis = await startRedis();
});

afterAll(async () => {
  await redis.stop();
});

afterEach(async () => {
  await Promise.all(open.map((c) => c.close()));
  open = [];
});

/** One "node": its own L1, a connection to the shared Redis and a pub/sub bus. */
async function node(namespace: string, nodeId: string, metrics?: CacheMetricsSink): Promise<TwoLevelCache> {
  const l2 = new RedisCache({ target: redis.url, namespace, maxRetryDelayMs: 100, breaker: { openMs: 300 }, metrics });
  const bus = new RedisInvalidationBus(l2, { originId: nodeId });
  const cache = new TwoLevelCache({ l2, bus });
  open.push(cache);
  expect(await l2.waitUntilUp(3_000)).toBe(true);
  expect(await bus.ready()).toBe(true);
  return cache;
}

async function cluster(n: number): Promise<TwoLevelCache[]> {
  const ns = `t${process.pid}-${++namespaceSeq}`;
  return Promise.all(Array.from({ length: n }, (_, i) => node(ns, `node-${i}`)));
}

async function eventually(check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<number> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > timeoutMs) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return Date.now() - started;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function timed<T>(op: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await op();
  return { value, ms: performance.now() - started };
}

describe("two-level cache over a real Redis", () => {
  it("two nodes sharing one Redis see each other's results; an L2 hit fills L1 with the remaining TTL", async () => {
    const [a, b] = await cluster(2);
    await a!.set("s:svc:k", { n: 1 }, { ttlMs: 5_000 });
    await sleep(20);
    expect(await b!.get("s:svc:k")).toEqual({ n: 1 });
    const left = b!.l1.remainingTtl("s:svc:k");
    expect(left).toBeGreaterThan(4_000);
    expect(left).toBeLessThanOrEqual(4_980);

    let runsB = 0;
    const key = methodCacheKey("svc", "m", { x: 1 });
    expect(await a!.getOrLoad(key, 5_000, () => "from-a")).toBe("from-a");
    expect(
      await b!.getOrLoad(key, 5_000, () => {
        runsB++;
        return "from-b";
      }),
    ).toBe("from-a");
    expect(runsB).toBe(0);
  });

  it("invalidation reaches the other node's L1 within a second and clears L2", async () => {
    const [a, b, c] = await cluster(3);
    const add = methodCacheKey("math", "add", { a: 1 });
    const mul = methodCacheKey("math", "mul", { a: 1 });
    await a!.set(add, 2, { ttlMs: 60_000 });
    await a!.set(mul, 1, { ttlMs: 60_000, tags: ["hot"] });
    expect(await b!.get(add)).toBe(2);
    expect(await b!.get(mul)).toBe(1);
    expect(b!.l1.size).toBe(2);

    expect(await a!.invalidate({ service: "math", method: "add" })).toBe(1);
    const took = await eventually(() => b!.l1.remainingTtl(add) === 0, 1_000);
    expect(took).toBeLessThan(1_000);
    expect(await c!.get(add)).toBeUndefined(); // gone from L2 too
    expect(await c!.get(mul)).toBe(1);

    expect(await a!.invalidate({ tag: "hot" })).toBe(1);
    await eventually(() => b!.l1.size === 0, 1_000);
    expect(await c!.l2!.get(mul)).toBeUndefined();
  });

  it("del on one node removes the key from L2 and from the other nodes' L1", async () => {
    const [a, b] = await cluster(2);
    await a!.set("s:svc:k", 1, { ttlMs: 60_000 });
    expect(await b!.get("s:svc:k")).toBe(1);
    await a!.del("s:svc:k");
    await eventually(async () => (await b!.get("s:svc:k")) === undefined, 1_000);
  });

  it("the cross-node lock: 20 concurrent loads of one key on two nodes run the loader at most twice", async () => {
    const [a, b] = await cluster(2);
    let runs = 0;
    const loader = async () => {
      runs++;
      await sleep(100);
      return { computed: true };
    };
    const key = methodCacheKey("slow", "op", {});
    const calls = Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? a! : b!).getOrLoad(key, 10_000, loader));
    const results = await Promise.all(calls);
    expect(results.every((r) => r.computed)).toBe(true);
    expect(runs).toBeGreaterThanOrEqual(1);
    expect(runs).toBeLessThanOrEqual(2);
  });

  it("a loader error on the lock holder is not cached anywhere", async () => {
    const [a, b] = await cluster(2);
    const key = methodCacheKey("bad", "op", {});
    await expect(a!.getOrLoad(key, 10_000, async () => Promise.reject(new Error("nope")))).rejects.toThrow("nope");
    expect(await b!.getOrLoad(key, 10_000, () => "fine")).toBe("fine");
  });

  it("Redis killed mid-run: ops stay fast on L1 alone, status goes down with a reason; back up, sharing resumes", async () => {
    const ns = `t${process.pid}-${++namespaceSeq}`;
    const states: boolean[] = [];
    const l2Results: Record<string, number> = {};
    const sink: CacheMetricsSink = {
      request: (level, result) => void (level === "l2" && (l2Results[result] = (l2Results[result] ?? 0) + 1)),
      eviction: () => {},
      redisState: (up) => void states.push(up),
    };
    const a = await node(ns, "a", sink);
    const b = await node(ns, "b");
    const changes: RedisStatus[] = [];
    a!.onStatusChange((s) => changes.push(s));
    await a!.set("s:svc:before", 1, { ttlMs: 60_000 });

    await redis.kill9();
    await eventually(() => a!.status().state === "down", 2_000);
    expect(a!.status().reason).toMatch(/connection lost/);
    expect(changes.at(-1)?.state).toBe("down");

    let slowest = 0;
    for (let i = 0; i < 20; i++) {
      const key = `s:svc:k${i}`;
      slowest = Math.max(slowest, (await timed(() => a!.set(key, i, { ttlMs: 60_000 }))).ms);
      const got = await timed(() => a!.get<number>(key));
      expect(got.value).toBe(i);
      slowest = Math.max(slowest, got.ms);
      const loaded = await timed(() => a!.getOrLoad(`s:svc:l${i}`, 60_000, () => i * 2));
      expect(loaded.value).toBe(i * 2);
      slowest = Math.max(slowest, loaded.ms);
      slowest = Math.max(slowest, (await timed(() => b!.get(key))).ms);
    }
    expect(slowest).toBeLessThan(100);
    expect(await a!.get("s:svc:before")).toBe(1); // L1 still answers
    expect((await timed(() => a!.invalidate({ service: "other" }))).ms).toBeLessThan(100);

    await redis.restart();
    await eventually(() => a!.status().state === "up" && b!.status().state === "up", 5_000);
    expect(changes.at(-1)).toEqual({ state: "up" });
    expect(states).toEqual([true, false, true]);
    expect(l2Results.error).toBeGreaterThan(0);
    await a!.set("s:svc:after", "shared", { ttlMs: 60_000 });
    expect(await b!.get("s:svc:after")).toBe("shared");
    // The subscriber re-subscribed by itself: invalidation reaches b again.
    await eventually(async () => {
      await a!.invalidate({ service: "svc" });
      return b!.l1.remainingTtl("s:svc:after") === 0;
    }, 2_000);
  }, 15_000);

  it("a frozen (SIGSTOP) Redis adds no wait: ops are bounded and the breaker opens", async () => {
    const [a] = await cluster(1);
    await a!.set("s:svc:k", 1, { ttlMs: 60_000 });
    process.kill(redis.pid, "SIGSTOP");
    try {
      let slowest = 0;
      for (let i = 0; i < 10; i++) {
        a!.l1.clear();
        const got = await timed(() => a!.get("s:svc:k"));
        expect(got.value).toBeUndefined();
        slowest = Math.max(slowest, got.ms);
        slowest = Math.max(slowest, (await timed(() => a!.set(`s:svc:n${i}`, i, { ttlMs: 1_000 }))).ms);
      }
      expect(slowest).toBeLessThan(100);
      expect(a!.status().state).toBe("down");
      expect(a!.status().reason).toMatch(/time/i);
    } finally {
      process.kill(redis.pid, "SIGCONT");
    }
    // No traffic needed: the background probe notices the recovery.
    await eventually(() => a!.status().state === "up", 5_000);
    a!.l1.clear();
    expect(await a!.get("s:svc:k")).toBe(1);
  }, 10_000);

  it("a Redis that was never reachable: status down with the reason, every op answers at once", async () => {
    const port = await freePort();
    const cache = await createNodeCache({ namespace: "none", nodeId: "x", redisUrl: `redis://127.0.0.1:${port}` });
    open.push(cache);
    await eventually(() => /ECONNREFUSED/.test(cache.status().reason ?? ""), 2_000);
    expect(cache.status().state).toBe("down");
    const ops: Array<[() => Promise<unknown>, unknown]> = [
      [() => cache.get("s:a:k"), undefined],
      [() => cache.set("s:a:k", 1, { ttlMs: 1_000 }), undefined],
      [() => cache.get("s:a:k"), 1],
      [() => cache.getOrLoad("s:a:l", 1_000, () => 2), 2],
      [() => cache.get("s:a:l"), 2],
      [() => cache.invalidate({ service: "a" }), 2],
      [() => cache.del("s:a:k"), undefined],
    ];
    for (const [op, expected] of ops) {
      const { value, ms } = await timed(op);
      expect(value).toEqual(expected);
      expect(ms).toBeLessThan(20);
    }
  });

  it("createNodeCache wires Redis, pub/sub and an extra bus", async () => {
    const ns = `t${process.pid}-factory`;
    const a = await createNodeCache({ namespace: ns, nodeId: "a", redisUrl: redis.url });
    const b = await createNodeCache({ namespace: ns, nodeId: "b", redisUrl: redis.url });
    open.push(a, b);
    expect(await a.l2!.waitUntilUp(3_000)).toBe(true);
    expect(await b.l2!.waitUntilUp(3_000)).toBe(true);
    await a.set("s:x:k", 1, { ttlMs: 10_000 });
    expect(await b.get("s:x:k")).toBe(1);
    expect((await createNodeCache({ namespace: ns, nodeId: "c" })).status()).toEqual({ state: "disabled" });
  });
});
