/**
 * Cache latency: L1 hit vs L2 hit vs an uncached load, against a private redis-server.
 * Run: npx tsx bench/cache.ts
 * Sequential ops (one in flight) give latency; the "x32" rows keep 32 in flight for throughput.
 * Loaders: "trivial" returns a small object at once; "0.5 ms" busy-waits 0.5 ms (a cheap method).
 */
import os from "node:os";
import { methodCacheKey } from "../src/cache/cache.js";
import { RedisInvalidationBus } from "../src/cache/invalidation.js";
import { RedisCache } from "../src/cache/redis.js";
import { TwoLevelCache } from "../src/cache/two-level.js";
import { startRedis } from "../test/helpers/redis-server.js";

const VALUE = { id: 42, name: "example", tags: ["a", "b", "c"], nested: { ok: true, score: 0.75 } };
const trivial = () => VALUE;
const halfMs = () => {
  const until = performance.now() + 0.5;
  while (performance.now() < until);
  return VALUE;
};

interface Row {
  name: string;
  ops: number;
  nsPerOp: number;
}

async function measure(name: string, ops: number, op: (i: number) => Promise<unknown>, concurrency = 1): Promise<Row> {
  for (let i = 0; i < Math.min(ops, 1_000); i++) await op(-1 - i); // warm-up
  let next = 0;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < ops) await op(next++);
    }),
  );
  const ns = Number(process.hrtime.bigint() - started);
  return { name, ops, nsPerOp: ns / ops };
}

async function main(): Promise<void> {
  const server = await startRedis();
  const l2 = new RedisCache({ target: server.url, namespace: "bench" });
  const bus = new RedisInvalidationBus(l2, { originId: "bench" });
  // Default L1 bounds (10 000 entries, 64 MiB): lru-cache's delete of the LAST entry clears
  // arrays sized by maxEntries, so a huge maxEntries would distort the L2 rows below.
  const cache = new TwoLevelCache({ l2, bus });
  const memoryOnly = new TwoLevelCache();
  try {
    if (!(await l2.waitUntilUp(3_000)) || !(await bus.ready())) throw new Error("redis not up");
    const key = methodCacheKey("bench", "get", { id: 42 });
    await cache.set(key, VALUE, { ttlMs: 600_000 });
    await memoryOnly.set(key, VALUE, { ttlMs: 600_000 });
    await cache.set("s:bench:filler", 1, { ttlMs: 600_000 }); // keeps L1 non-empty between deletes

    const rows: Row[] = [];
    rows.push(await measure("L1 hit: get()", 300_000, () => cache.get(key)));
    rows.push(await measure("L1 hit: getOrLoad()", 300_000, () => cache.getOrLoad(key, 600_000, trivial)));
    rows.push(
      await measure("L2 hit: get() after L1 delete", 10_000, () => {
        cache.l1.delete(key);
        return cache.get(key);
      }),
    );
    rows.push(await measure("L2 hit: RedisCache.get()", 10_000, () => l2.get(key)));
    rows.push(
      await measure(
        "L2 hit x32 in flight",
        50_000,
        () => {
          cache.l1.delete(key);
          return cache.get(key);
        },
        32,
      ),
    );
    const run = Date.now();
    rows.push(await measure("miss+load, memory only, trivial", 100_000, (i) => memoryOnly.getOrLoad(`m:b:t:${run}:${i}`, 600_000, trivial)));
    rows.push(await measure("miss+load, with Redis, trivial", 5_000, (i) => cache.getOrLoad(`m:b:r:${run}:${i}`, 600_000, trivial)));
    rows.push(await measure("miss+load, with Redis, 0.5 ms", 2_000, (i) => cache.getOrLoad(`m:b:h:${run}:${i}`, 600_000, halfMs)));
    rows.push(await measure("no cache: 0.5 ms loader alone", 2_000, async () => halfMs()));

    const base = rows[0]!.nsPerOp;
    console.log(`cache bench — ${new Date().toISOString()} — ${os.cpus()[0]?.model ?? "cpu"} x${os.cpus().length}, node ${process.version}, redis on 127.0.0.1`);
    console.log(`value: ${JSON.stringify(VALUE).length} B JSON\n`);
    console.log(`${"case".padEnd(36)} ${"ops".padStart(8)} ${"ns/op".padStart(12)} ${"ops/s".padStart(12)} ${"vs L1 hit".padStart(10)}`);
    for (const r of rows) {
      console.log(
        `${r.name.padEnd(36)} ${String(r.ops).padStart(8)} ${r.nsPerOp.toFixed(0).padStart(12)} ${(1e9 / r.nsPerOp).toFixed(0).padStart(12)} ${(r.nsPerOp / base).toFixed(1).padStart(9)}x`,
      );
    }
  } finally {
    await cache.close();
    await memoryOnly.close();
    await server.stop();
  }
}

await main();
