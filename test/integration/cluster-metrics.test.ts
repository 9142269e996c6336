import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startNode, stopAll, waitFor, type RunningNode } from "../helpers/launcher.js";
import { request, testToken } from "../helpers/http.js";
import { SseClient } from "../helpers/sse.js";

interface MethodRow {
  service: string;
  method: string;
  calls_per_s: number;
  errors_per_s: number;
  p50_ms: number;
  p99_ms: number;
  calls?: number;
  errors?: number;
}
interface NodeRow {
  node_id: string;
  role: string;
  state: string;
  stale: boolean;
  error?: string;
  process: Record<string, number> | null;
  methods: MethodRow[];
  cache: { hits: number; misses: number; hit_ratio: number } | null;
}
interface Body {
  generated_at: string;
  window_s: number;
  nodes: NodeRow[];
  services: MethodRow[];
  cache: { hits: number; misses: number; hit_ratio: number };
}

let coord: RunningNode;
let w1: RunningNode;
let w2: RunningNode;
let admin: string;
let client: string;

beforeAll(async () => {
  coord = await startNode({ nodeId: "cm-coord" });
  const join = ["--coord", `127.0.0.1:${coord.port}`];
  [w1, w2] = await Promise.all([startNode({ role: "worker", nodeId: "cm-w1", args: join }), startNode({ role: "worker", nodeId: "cm-w2", args: join })]);
  admin = await testToken("admin");
  client = await testToken("client");
  await waitFor(async () => (await request<{ members: { alive: number } }>(`${coord.url}/cluster/status`, { token: admin })).body.members.alive === 3, 20_000);
});
afterAll(async () => {
  w2?.signal("SIGCONT");
  await stopAll();
});

const metrics = () => request<Body>(`${coord.url}/cluster/metrics`, { token: client });
const call = (path: string, params: Record<string, unknown> = {}) => request(`${coord.url}/rpc/${path}`, { token: admin, body: { params } });

describe("GET /cluster/metrics", () => {
  it("shows every alive node's process figures and per-method calls, errors and latency, per node and for the cluster", async () => {
    for (let i = 0; i < 20; i++) expect((await call("example_service/hello", { name: `n${i}` })).status).toBe(200);
    for (let i = 0; i < 5; i++) expect((await call("example_service/fail")).status).toBe(500);
    for (let i = 0; i < 4; i++) expect((await call("example_service/sleep?node=cm-w1", { ms: 150 })).status).toBe(200);
    const res = await metrics();
    expect(res.status).toBe(200);
    const body = res.body;
    expect(body.window_s).toBe(60);
    expect(Date.parse(body.generated_at)).toBeGreaterThan(Date.now() - 60_000);
    expect(body.nodes.map((n) => n.node_id)).toEqual(["cm-coord", "cm-w1", "cm-w2"]);
    for (const n of body.nodes) {
      expect(n).toMatchObject({ stale: false, state: "alive" });
      expect(n.process!.rss_bytes).toBeGreaterThan(10_000_000);
      expect(n.process!.heap_used_bytes).toBeGreaterThan(1_000_000);
      expect(n.process!.uptime_s).toBeGreaterThanOrEqual(0);
      expect(n.process!.cpu_pct).toBeGreaterThanOrEqual(0);
      expect(n.cache).toMatchObject({ hits: expect.any(Number), misses: expect.any(Number), hit_ratio: expect.any(Number) });
    }
    expect(body.nodes.find((n) => n.node_id === "cm-coord")!.role).toBe("coordinator");
    // The coordinator received every call.
    const coordRows = body.nodes.find((n) => n.node_id === "cm-coord")!.methods;
    expect(coordRows.find((m) => m.method === "hello")).toMatchObject({ service: "example_service", calls: 20, errors: 0 });
    expect(coordRows.find((m) => m.method === "fail")).toMatchObject({ calls: 5, errors: 5 });
    const hello = body.services.find((m) => m.service === "example_service" && m.method === "hello")!;
    expect(hello.calls_per_s).toBeGreaterThan(0);
    expect(hello.errors_per_s).toBe(0);
    const fail = body.services.find((m) => m.method === "fail")!;
    expect(fail.errors_per_s).toBeGreaterThan(0);
    expect(fail.errors_per_s).toBeCloseTo(fail.calls_per_s, 5);
    const sleep = body.services.find((m) => m.method === "sleep")!;
    expect(sleep.p50_ms).toBeGreaterThan(120);
    expect(sleep.p99_ms).toBeGreaterThanOrEqual(sleep.p50_ms);
    expect(hello.p99_ms).toBeLessThan(sleep.p50_ms);
  });

  it("needs a token", async () => {
    expect((await request(`${coord.url}/cluster/metrics`)).status).toBe(401);
  });

  it("counts cache hits of cached methods", async () => {
    for (let i = 0; i < 4; i++) expect((await call("example_service/slow_square", { n: 7 })).status).toBe(200);
    await waitFor(async () => (await metrics()).body.cache.hits >= 3, 5_000, () => "cache hits counted");
    expect((await metrics()).body.cache.hit_ratio).toBeGreaterThan(0);
  });

  it("answers in bounded time when a node is stopped (SIGSTOP), marking it stale with its last known figures", async () => {
    w2.signal("SIGSTOP");
    try {
      // A gather a few ms old may be reused; every answer must come quickly anyway.
      let stalled: NodeRow | undefined;
      let res: Awaited<ReturnType<typeof metrics>> | undefined;
      await waitFor(async () => {
        const started = Date.now();
        res = await metrics();
        expect(Date.now() - started).toBeLessThan(5_000);
        expect(res.status).toBe(200);
        stalled = res.body.nodes.find((n) => n.node_id === "cm-w2");
        return stalled?.stale === true;
      }, 10_000, () => "stopped node marked stale");
      // It may already be suspect, but not yet declared dead; its last figures are still shown.
      expect(stalled).toMatchObject({ stale: true, error: expect.any(String) });
      expect(stalled!.process).not.toBeNull();
      expect(res!.body.nodes.find((n) => n.node_id === "cm-w1")!.stale).toBe(false);
    } finally {
      w2.signal("SIGCONT");
    }
    await waitFor(async () => (await metrics()).body.nodes.find((n) => n.node_id === "cm-w2")?.stale === false, 20_000, () => "stopped node fresh again");
  });

  it("streams the same figures as a `metrics` event every second to event subscribers", async () => {
    const stream = await SseClient.open(`${coord.url}/cluster/events`, client);
    try {
      const first = await stream.waitFor((f) => f.event === "metrics");
      const second = await stream.waitFor((f) => f.event === "metrics" && f !== first, 10_000, stream.frames.indexOf(first) + 1);
      const [a, b] = [first.data as Body, second.data as Body];
      expect(a.nodes.map((n) => n.node_id)).toEqual(["cm-coord", "cm-w1", "cm-w2"]);
      expect(Date.parse(b.generated_at)).toBeGreaterThan(Date.parse(a.generated_at));
      expect(first.id).toBeGreaterThan(0);
    } finally {
      stream.close();
    }
  });
});
