import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stopAll, waitFor, type RunningNode } from "../helpers/launcher.js";
import { request, testToken } from "../helpers/http.js";
import { startRoutedCluster, statesSeenBy } from "../helpers/cluster.js";


let coord: RunningNode;
let workers: RunningNode[];
let admin: string;
let client: string;

beforeAll(async () => {
  ({ coord, workers } = await startRoutedCluster("c-rpc", ["w-a", "w-b", "w-c"]));
  admin = await testToken("admin");
  client = await testToken("client");
});
afterAll(stopAll);

const call = (node: RunningNode, path: string, init: Parameters<typeof request>[1] = {}) => request(`${node.url}/rpc/${path}`, { method: "POST", token: admin, body: {}, ...init });

describe("distributed RPC", () => {
  it("spreads calls over the nodes hosting the service and names the one that ran it", async () => {
    const seen = new Map<string, number>();
    for (let i = 0; i < 60; i++) {
      const res = await call(coord, "worker_svc/whoami");
      expect(res.status).toBe(200);
      const node = (res.body as { result: { node: string } }).result.node;
      expect(res.headers.get("x-p2p-node")).toBe(node);
      seen.set(node, (seen.get(node) ?? 0) + 1);
    }
    expect([...seen.keys()].sort()).toEqual(["w-a", "w-b", "w-c"]);
    // Each worker counts what it ran; the coordinator counts what it received.
    for (const w of workers) {
      const text = String((await request(`${w.url}/metrics`, { token: admin })).body);
      const ran = Number(/p2p_rpc_executed_total\{service="worker_svc",method="whoami",code="OK"[^}]*\} (\d+)/.exec(text)?.[1] ?? 0);
      expect(ran).toBe(seen.get(w.nodeId));
    }
    const received = String((await request(`${coord.url}/metrics`, { token: admin })).body);
    expect(received).toMatch(/p2p_rpc_requests_total\{service="worker_svc",method="whoami",code="OK"[^}]*\} 60/);
    for (const strategy of ["round-robin", "random"]) {
      const nodes = new Set<string>();
      for (let i = 0; i < 30; i++) nodes.add(String((await call(coord, "worker_svc/whoami", { headers: { "x-p2p-balancer": strategy } })).headers.get("x-p2p-node")));
      expect(nodes.size, strategy).toBe(3);
    }
  });

  it("prefers the local node when it hosts the service", async () => {
    for (let i = 0; i < 10; i++) expect((await call(workers[1]!, "worker_svc/whoami")).headers.get("x-p2p-node")).toBe("w-b");
  });

  it("?node= runs the call on that node only", async () => {
    for (const w of workers) expect((await call(coord, `worker_svc/whoami?node=${w.nodeId}`)).body).toMatchObject({ result: { node: w.nodeId } });
    expect((await call(coord, "worker_svc/whoami?node=c-rpc")).body).toMatchObject({ error: { code: "SERVICE_NOT_FOUND" } });
    expect((await call(coord, "worker_svc/whoami?node=ghost")).status).toBe(404);
  });

  it("remote errors come back as on a local call", async () => {
    const internal = await call(coord, "worker_svc/fail");
    expect(internal.status).toBe(500);
    expect(internal.body).toMatchObject({ error: { code: "INTERNAL", message: expect.stringMatching(/^failed on w-/) } });
    expect(internal.headers.get("x-p2p-node")).toMatch(/^w-/);
    const invalid = await call(coord, "worker_svc/square", { body: { params: { n: "x" } } });
    expect(invalid.status).toBe(400);
    expect(invalid.body).toMatchObject({ error: { code: "INVALID_PARAMS" } });
    expect((await call(coord, "worker_svc/square", { body: { params: { n: 7 } } })).body).toMatchObject({ result: { n2: 49 } });
    const forbidden = await call(coord, "worker_svc/secret", { token: client });
    expect(forbidden.status).toBe(403);
    expect((await call(coord, "worker_svc/secret")).status).toBe(200);
    expect((await call(coord, "worker_svc/nope")).body).toMatchObject({ error: { code: "METHOD_NOT_FOUND" } });
    // An UNAVAILABLE thrown by the method itself is its answer: not retried elsewhere as if never sent.
    const own = await call(coord, "worker_svc/unavailable");
    expect(own.status).toBe(503);
    expect(own.body).toMatchObject({ error: { message: "not today" } });
  });

  it("a 500 ms deadline gives 504 in time across nodes", async () => {
    const started = Date.now();
    const res = await call(coord, "worker_svc/sleep", { body: { params: { ms: 5000 } }, headers: { "x-p2p-timeout-ms": "500" } });
    const elapsed = Date.now() - started;
    expect(res.status).toBe(504);
    expect(res.body).toMatchObject({ error: { code: "TIMEOUT" } });
    expect(elapsed).toBeLessThan(1500);
  });

  it("nested proxy calls cross nodes with the caller's context", async () => {
    const res = await call(coord, "worker_svc/nested", { token: client });
    expect(res.body).toMatchObject({ result: { target: "c-rpc", via: expect.stringMatching(/^w-/) } });
  });

  it("broadcast reaches every alive host with partial results and counts", async () => {
    const res = await request(`${coord.url}/admin/broadcast`, { token: admin, body: { service: "worker_svc", method: "whoami" } });
    expect(res.body).toMatchObject({ ok: 3, failed: 0 });
    expect(Object.keys((res.body as { results: object }).results).sort()).toEqual(["w-a", "w-b", "w-c"]);
    const slow = await request(`${coord.url}/admin/broadcast`, { token: admin, body: { service: "worker_svc", method: "fail", timeout_ms: 2000 } });
    expect(slow.body).toMatchObject({ ok: 0, failed: 3, results: { "w-a": { error: { code: "INTERNAL" } } } });
  });

  it("callers' short deadlines open no breaker; a method answering UNAVAILABLE pauses that endpoint only", async () => {
    const target = workers[0]!;
    const breakerState = async (method: string) => {
      const text = String((await request(`${coord.url}/metrics`, { token: admin })).body);
      return Number(new RegExp(`p2p_breaker_state\\{target="${target.nodeId}",service="worker_svc",method="${method}"[^}]*\\} (\\d)`).exec(text)?.[1] ?? 0);
    };
    await call(coord, `worker_svc/set_slow?node=${target.nodeId}`, { body: { params: { ms: 2000 } } });
    for (let i = 0; i < 12; i++) {
      const res = await call(coord, `worker_svc/whoami?node=${target.nodeId}`, { token: client, headers: { "x-p2p-timeout-ms": "30" } });
      expect(res.status).toBe(504);
    }
    expect(await breakerState("whoami")).toBe(0);
    await call(coord, `worker_svc/set_slow?node=${target.nodeId}`, { body: { params: { ms: 0 } } });
    expect((await call(coord, `worker_svc/whoami?node=${target.nodeId}`)).status).toBe(200);

    for (let i = 0; i < 20; i++) expect((await call(coord, `worker_svc/unavailable?node=${target.nodeId}`)).status).toBe(503);
    expect(await breakerState("unavailable")).toBe(2);
    const paused = await call(coord, `worker_svc/unavailable?node=${target.nodeId}`);
    expect(paused.body).toMatchObject({ error: { code: "UNAVAILABLE", data: { reason: "no_healthy_node", skipped: [target.nodeId] } } });
    // The node's other methods are served as before.
    expect((await call(coord, `worker_svc/whoami?node=${target.nodeId}`)).status).toBe(200);
  });

  it("kill -9 of a worker during sustained idempotent load: not one failed call", async () => {
    const victim = workers[2]!;
    const results: number[] = [];
    let killedAt = Number.POSITIVE_INFINITY;
    let startedAfterKill = 0;
    let stop = false;
    const loop = async () => {
      while (!stop) {
        if (Date.now() >= killedAt) startedAfterKill++;
        const res = await call(coord, "worker_svc/work", { token: client, body: { params: { ms: 5 } }, headers: { "x-p2p-timeout-ms": "10000" } });
        results.push(res.status);
      }
    };
    const loops = Array.from({ length: 8 }, loop);
    await new Promise((r) => setTimeout(r, 800));
    killedAt = Date.now();
    victim.signal("SIGKILL");
    await waitFor(async () => (await statesSeenBy(coord))[victim.nodeId] === "dead", 15_000);
    await new Promise((r) => setTimeout(r, 500));
    stop = true;
    await Promise.all(loops);
    // The load went on through the kill and the detection (counts are loose: a busy CI machine
    // makes each call slow; what matters is that none of them failed).
    expect(startedAfterKill).toBeGreaterThan(8);
    expect(results.filter((s) => s !== 200)).toEqual([]);
  });

  it("every host gone: a quick 503, and 404 for what never existed", async () => {
    const stopped = Date.now();
    const codes = await Promise.all(workers.slice(0, 2).map((w) => w.stop()));
    expect(codes).toEqual([0, 0]);
    const drainMs = Date.now() - stopped;
    await waitFor(async () => {
      const seen = await statesSeenBy(coord);
      return ["w-a", "w-b"].every((id) => seen[id] === "left");
    }, 10_000, () => `w-a and w-b to be left (stopping took ${drainMs} ms)`);
    const started = Date.now();
    const res = await call(coord, "worker_svc/whoami");
    expect(res.status).toBe(503);
    expect(res.body).toMatchObject({ error: { code: "UNAVAILABLE" } });
    expect(Date.now() - started).toBeLessThan(500);
    expect((await call(coord, "never_existed/x")).status).toBe(404);
  });
});
