import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { freePort, startNode, stopAll, waitFor, type RunningNode } from "../helpers/launcher.js";
import { request, testToken } from "../helpers/http.js";
import { statesSeenBy, statusOf } from "../helpers/cluster.js";

/**
 * The README's single-machine cluster: every node started from one working directory with
 * its default data dir, a coordinator with no --coord, workers pointing at it.
 */
async function readmeCluster(): Promise<{ dir: string; coordPort: number; coord: RunningNode; workers: RunningNode[] }> {
  const dir = mkdtempSync(join(tmpdir(), "p2p-readme-"));
  const coordPort = await freePort();
  const coord = await startNode({ role: "coordinator", port: coordPort, cwd: dir });
  const workers = await Promise.all([0, 1].map(() => startNode({ role: "worker", cwd: dir, args: ["--coord", `127.0.0.1:${coordPort}`] })));
  await waitOneCluster([coord, ...workers], 15_000);
  return { dir, coordPort, coord, workers };
}

/** Every node sees every other alive and names the same leader. */
async function oneCluster(nodes: RunningNode[]): Promise<boolean> {
  const ids = nodes.map((n) => n.nodeId);
  const leaders = new Set<string | null>();
  for (const n of nodes) {
    const seen = await statesSeenBy(n);
    if (!ids.every((id) => seen[id] === "alive")) return false;
    leaders.add((await statusOf(n)).leader);
  }
  return leaders.size === 1 && !leaders.has(null);
}

async function waitOneCluster(nodes: RunningNode[], timeoutMs: number): Promise<number> {
  const started = Date.now();
  await waitFor(() => oneCluster(nodes), timeoutMs, () => `one cluster of ${nodes.map((n) => n.nodeId).join(", ")}`);
  return Date.now() - started;
}

describe("restarts and drains keep one cluster", () => {
  afterEach(stopAll);

  for (const how of ["SIGTERM", "kill -9"] as const) {
    it(`a coordinator restarted after ${how} is back in one cluster with its workers within 15 s`, async () => {
      const { dir, coordPort, coord, workers } = await readmeCluster();
      if (how === "SIGTERM") expect(await coord.stop()).toBe(0);
      else {
        coord.signal("SIGKILL");
        await coord.exited;
      }
      // Workers see it gone (left at once after SIGTERM, dead after a crash).
      await waitFor(async () => {
        for (const w of workers) if ((await statesSeenBy(w))[coord.nodeId] === "alive") return false;
        return true;
      }, 15_000, () => "workers to see the coordinator gone");
      // Timed from the moment the new process answers /health (its start-up time depends on
      // the machine, not on the cluster).
      const again = await startNode({ role: "coordinator", port: coordPort, nodeId: coord.nodeId, cwd: dir });
      const took = await waitOneCluster([again, ...workers], 15_000);
      expect(took).toBeLessThan(15_000);
      // Calls through the restarted coordinator reach the workers' services.
      const token = await testToken("admin");
      for (const w of workers) {
        const res = await request(`${again.url}/rpc/example_service/hello?node=${w.nodeId}`, { token, body: { params: {} } });
        expect(res.status).toBe(200);
        expect(res.headers.get("x-p2p-node")).toBe(w.nodeId);
      }
      expect((await statusOf(workers[0]!)).leader).toBe(again.nodeId);
    }, 120_000);
  }

  it("a draining node forwards new calls to a healthy node that hosts the service", async () => {
    const coord = await startNode({ role: "coordinator" });
    const workers = await Promise.all([0, 1].map(() => startNode({ role: "worker", args: ["--coord", `127.0.0.1:${coord.port}`] })));
    await waitOneCluster([coord, ...workers], 15_000);
    const [draining] = workers as [RunningNode, RunningNode];
    const token = await testToken("admin");
    // A slow call in flight keeps the node draining for a few seconds.
    const slow = request(`${draining.url}/rpc/example_service/sleep?node=${draining.nodeId}`, { token, body: { params: { ms: 4_000 } } });
    // A call sent after it and answered means the slow one has been taken.
    expect((await request(`${draining.url}/rpc/example_service/hello?node=${draining.nodeId}`, { token, body: { params: {} } })).status).toBe(200);
    draining.signal("SIGTERM");
    await waitFor(() => /"inflight":[1-9].*draining: new calls go to other nodes/.test(draining.output()), 5_000, () => `the node to drain with a call in flight:\n${draining.output()}`);
    const answeredBy = new Map<string, number>();
    for (let i = 0; i < 20; i++) {
      const res = await request<{ result: { node: string } }>(`${draining.url}/rpc/example_service/hello`, { token, body: { params: { name: `n${i}` } } });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      const by = res.headers.get("x-p2p-node")!;
      expect(by).not.toBe(draining.nodeId);
      // While draining, every answer asks the client to take its next call elsewhere.
      expect(res.headers.get("connection")).toBe("close");
      answeredBy.set(by, (answeredBy.get(by) ?? 0) + 1);
    }
    expect([...answeredBy.keys()].every((id) => id === coord.nodeId || id === workers[1]!.nodeId)).toBe(true);
    // Pinned to the draining node itself: it does not take new work.
    const pinned = await request<{ error: { code: string } }>(`${draining.url}/rpc/example_service/hello?node=${draining.nodeId}`, { token, body: { params: {} } });
    expect(pinned.status).toBe(503);
    expect(pinned.headers.get("connection")).toBe("close");
    expect(pinned.body.error.code).toBe("UNAVAILABLE");
    // The call in flight finished on the draining node, which then exits cleanly.
    const slowRes = await slow;
    expect(slowRes.status).toBe(200);
    expect(slowRes.headers.get("x-p2p-node")).toBe(draining.nodeId);
    expect(slowRes.headers.get("connection")).toBe("close");
    expect(await draining.exited).toBe(0);
  }, 120_000);
});
