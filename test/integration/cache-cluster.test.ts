import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startNode, stopAll, waitFor, type RunningNode } from "../helpers/launcher.js";
import { request, testToken } from "../helpers/http.js";
import { waitConverged } from "../helpers/cluster.js";
import { startRedis, type RedisServerHandle } from "../helpers/redis-server.js";

let admin: string;
beforeAll(async () => {
  admin = await testToken("admin");
});
afterAll(stopAll);

interface Square {
  n: number;
  square: number;
  computed_by: string;
  at: string;
}
const square = async (node: RunningNode, n: number, params: Record<string, unknown> = { n }) => {
  const res = await request<{ result: Square }>(`${node.url}/rpc/example_service/slow_square`, { token: admin, body: { params } });
  expect(res.status).toBe(200);
  return res.body.result;
};
const invalidate = (node: RunningNode, body: object) => request(`${node.url}/admin/cache/invalidate`, { token: admin, body });

describe("method cache across nodes with Redis", () => {
  let redis: RedisServerHandle;
  let a: RunningNode;
  let b: RunningNode;

  beforeAll(async () => {
    redis = await startRedis();
    a = await startNode({ nodeId: "cache-a", args: ["--redis-url", redis.url] });
    b = await startNode({ nodeId: "cache-b", role: "worker", args: ["--redis-url", redis.url, "--coord", `127.0.0.1:${a.port}`] });
    await waitConverged([a, b]);
    await waitFor(async () => (await request(`${a.url}/health`)).body.status === "ok" && (await request(`${b.url}/health`)).body.status === "ok", 10_000);
  });
  afterAll(async () => redis?.stop());

  it("a result computed on one node is served to another from Redis; key order does not matter", async () => {
    const first = await square(a, 12, { n: 12, pad: { x: 1, y: 2 } });
    expect(first.computed_by).toBe("cache-a");
    const started = Date.now();
    const second = await square(b, 12, { pad: { y: 2, x: 1 }, n: 12 });
    expect(Date.now() - started).toBeLessThan(150);
    expect(second).toEqual(first);
  });

  it("invalidation is seen by every node within a second", async () => {
    const before = await square(a, 5);
    expect((await square(b, 5)).at).toBe(before.at);
    const res = await invalidate(a, { service: "example_service", method: "slow_square" });
    expect(res.status).toBe(200);
    expect((res.body as { invalidated: number }).invalidated).toBeGreaterThanOrEqual(1);
    await new Promise((r) => setTimeout(r, 1000));
    const after = await square(b, 5);
    expect(after.at).not.toBe(before.at);
  });

  it("Redis killed mid-run: calls still succeed quickly, /health is degraded; back: shared again", async () => {
    await redis.kill9();
    for (const node of [a, b]) {
      const started = Date.now();
      const r = await square(node, 77);
      expect(r.square).toBe(5929);
      expect(Date.now() - started).toBeLessThan(1500);
    }
    await waitFor(async () => (await request(`${a.url}/health`)).body.status === "degraded", 5000);
    const health = await request<{ reasons: string[] }>(`${a.url}/health`);
    expect(health.body.reasons.join(" ")).toMatch(/redis/);
    const metrics = String((await request(`${a.url}/metrics`, { token: admin })).body);
    expect(metrics).toMatch(/p2p_cache_redis_up\{[^}]*\} 0/);

    await redis.restart();
    await waitFor(async () => (await request(`${a.url}/health`)).body.status === "ok" && (await request(`${b.url}/health`)).body.status === "ok", 15_000);
    const fresh = await square(a, 99);
    expect(await square(b, 99)).toEqual(fresh);
  });
});

describe("method cache without Redis", () => {
  it("caches on each node, and invalidation travels through the cluster", async () => {
    const a = await startNode({ nodeId: "mem-a" });
    const b = await startNode({ nodeId: "mem-b", role: "worker", args: ["--coord", `127.0.0.1:${a.port}`] });
    await waitConverged([a, b]);
    expect((await request(`${a.url}/health`)).body.status).toBe("ok");
    const first = await square(b, 3);
    const again = await square(b, 3);
    expect(again.at).toBe(first.at);
    const metrics = String((await request(`${b.url}/metrics`, { token: admin })).body);
    expect(metrics).toMatch(/p2p_cache_requests_total\{level="l1",result="hit"/);
    await invalidate(a, { service: "example_service" });
    await new Promise((r) => setTimeout(r, 1000));
    expect((await square(b, 3)).at).not.toBe(first.at);
  });
});
