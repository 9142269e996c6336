/**
 * Routing under slow methods, short deadlines and departures, on real processes: a coordinator
 * without services routes every call to two equal workers.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stopAll, waitFor, type RunningNode } from "../helpers/launcher.js";
import { request, testToken } from "../helpers/http.js";
import { startRoutedCluster, statesSeenBy } from "../helpers/cluster.js";


let coord: RunningNode;
let workers: RunningNode[];
let admin: string;
let client: string;

beforeAll(async () => {
  ({ coord, workers } = await startRoutedCluster("c-route", ["w-1", "w-2"]));
  admin = await testToken("admin");
  client = await testToken("client", 3600, "mallory");
});
afterAll(stopAll);

type Init = Parameters<typeof request>[1];
const call = (path: string, init: Init = {}) => request(`${coord.url}/rpc/${path}`, { method: "POST", token: admin, body: {}, ...init });
const metrics = async () => String((await request(`${coord.url}/metrics`, { token: admin })).body);

describe("routing", () => {
  it("a client's 30 ms deadlines on a slow public method open nothing: every method and caller stays served", async () => {
    for (let i = 0; i < 12; i++) {
      const res = await call("worker_svc/sleep", { token: client, body: { params: { ms: 2000 } }, headers: { "x-p2p-timeout-ms": "30" } });
      expect(res.status).toBe(504);
      expect(res.body).toMatchObject({ error: { code: "TIMEOUT" } });
    }
    for (let i = 0; i < 10; i++) {
      expect((await call("worker_svc/whoami", { token: client })).status).toBe(200);
      expect((await call("worker_svc/work", { body: { params: { ms: 1 } } })).status).toBe(200);
      expect((await call("worker_svc/sleep", { body: { params: { ms: 5 } } })).status).toBe(200);
    }
    const text = await metrics();
    expect(text).not.toMatch(/p2p_breaker_state\{[^}]*\} [12]/);
    expect(text).not.toMatch(/p2p_node_breaker_state\{[^}]*\} [12]/);
  });

  it("a spent deadline always answers 504, idempotent or not, across nodes (50 calls)", async () => {
    const outcomes: Array<{ status: number; code: unknown; late: number }> = [];
    for (let batch = 0; batch < 5; batch++) {
      const calls = Array.from({ length: 10 }, async (_, i) => {
        const timeoutMs = 20 + ((batch * 10 + i) % 10) * 20;
        const method = i % 2 === 0 ? "sleep" : "sleep_once";
        const started = Date.now();
        const res = await call(`worker_svc/${method}`, { body: { params: { ms: timeoutMs + 400 } }, headers: { "x-p2p-timeout-ms": String(timeoutMs) } });
        outcomes.push({ status: res.status, code: (res.body as { error?: { code?: unknown } }).error?.code, late: Date.now() - started - timeoutMs });
      });
      await Promise.all(calls);
    }
    expect(outcomes).toHaveLength(50);
    expect(outcomes.filter((o) => o.status !== 504 || o.code !== "TIMEOUT")).toEqual([]);
    expect(Math.max(...outcomes.map((o) => o.late))).toBeLessThan(1500);
  });

  it("two equal workers each take at least a third of 60 concurrent calls", async () => {
    const nodes = await Promise.all(Array.from({ length: 60 }, async () => {
      const res = await call("worker_svc/work", { body: { params: { ms: 50 } } });
      expect(res.status).toBe(200);
      return res.headers.get("x-p2p-node");
    }));
    for (const w of workers) expect(nodes.filter((n) => n === w.nodeId).length, w.nodeId).toBeGreaterThanOrEqual(20);
  });

  it("a worker that had one slow answer gets traffic again within 5 s", async () => {
    const slow = workers[0]!;
    await call(`worker_svc/set_slow?node=${slow.nodeId}`, { body: { params: { ms: 1500 } } });
    expect((await call(`worker_svc/whoami?node=${slow.nodeId}`)).status).toBe(200);
    await call(`worker_svc/set_slow?node=${slow.nodeId}`, { body: { params: { ms: 0 } } });
    const started = Date.now();
    let backAfter = -1;
    while (backAfter < 0 && Date.now() - started < 10_000) {
      const res = await call("worker_svc/whoami");
      expect(res.status).toBe(200);
      if (res.headers.get("x-p2p-node") === slow.nodeId) backAfter = Date.now() - started;
      else await new Promise((r) => setTimeout(r, 20)); // a steady trickle, bounded by the 10 s above
    }
    expect(backAfter).toBeGreaterThanOrEqual(0);
    expect(backAfter).toBeLessThan(5_000);
  });

  it("a departed node leaves no metrics series behind", async () => {
    const gone = workers[1]!;
    const series = new RegExp(`target="${gone.nodeId}"`);
    expect(await metrics()).toMatch(series);
    expect(await gone.stop()).toBe(0);
    await waitFor(async () => (await statesSeenBy(coord))[gone.nodeId] === "left", 15_000, () => `${gone.nodeId} to be left`);
    expect(await metrics()).not.toMatch(series);
    // Calls go on with the worker that is left.
    expect((await call("worker_svc/whoami")).headers.get("x-p2p-node")).toBe(workers[0]!.nodeId);
  });
});
