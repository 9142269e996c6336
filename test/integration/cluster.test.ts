import { afterAll, describe, expect, it } from "vitest";
import { freePort, startNode, stopAll, waitFor } from "../helpers/launcher.js";
import { request, testToken } from "../helpers/http.js";
import { statesSeenBy, statusOf, waitConverged, waitUntilAllSee } from "../helpers/cluster.js";

afterAll(stopAll);

describe("membership with real processes", () => {
  it("workers join, everyone learns everyone, kill -9 is seen dead and SIGTERM is seen left", async () => {
    const coordPort = await freePort();
    // A worker started before its coordinator keeps retrying and joins when it comes up.
    const early = await startNode({ role: "worker", nodeId: "w-early", args: ["--coord", `127.0.0.1:${coordPort}`] });
    const coord = await startNode({ role: "coordinator", nodeId: "c1", port: coordPort });
    const w2 = await startNode({ role: "worker", nodeId: "w2", args: ["--coord", `127.0.0.1:${coordPort}`] });
    const w3 = await startNode({ role: "worker", nodeId: "w3", args: ["--coord", `127.0.0.1:${coordPort}`] });
    await waitConverged([coord, early, w2, w3], 20_000);

    for (const n of [coord, early, w2, w3]) {
      const status = await statusOf(n);
      expect(status.leader).toBe("c1");
      expect(status.members.alive).toBe(4);
      expect(status.services.example_service!.sort()).toEqual(["c1", "w-early", "w2", "w3"]);
    }
    const nodes = await request<{ nodes: { node_id: string; role: string; address: string }[] }>(`${w2.url}/cluster/nodes`, { token: await testToken() });
    expect(nodes.body.nodes.find((n) => n.node_id === "c1")).toMatchObject({ role: "coordinator", address: `127.0.0.1:${coordPort}` });

    w3.signal("SIGKILL");
    const deadAfter = await waitUntilAllSee([coord, early, w2], "w3", "dead", 15_000);
    expect(deadAfter).toBeLessThan(10_000);

    const stopped = w2.stop();
    const leftAfter = await waitUntilAllSee([coord, early], "w2", "left", 5_000);
    expect(leftAfter).toBeLessThan(3_000);
    expect(await stopped).toBe(0);
  });

  it("a node restarted under the same id takes over its identity", async () => {
    const coord = await startNode({ nodeId: "c-restart" });
    const port = await freePort();
    const w = await startNode({ role: "worker", nodeId: "w-restart", port, args: ["--coord", `127.0.0.1:${coord.port}`] });
    await waitConverged([coord, w]);
    w.signal("SIGKILL");
    await waitUntilAllSee([coord], "w-restart", "dead", 15_000);
    const again = await startNode({ role: "worker", nodeId: "w-restart", port, args: ["--coord", `127.0.0.1:${coord.port}`] });
    await waitConverged([coord, again]);
    expect((await statesSeenBy(coord))["w-restart"]).toBe("alive");
  });

  it("two coordinators: one leader everywhere, another takes over when it dies, workers go on", async () => {
    const c1 = await startNode({ nodeId: "lead-a" });
    const c2 = await startNode({ nodeId: "lead-b", args: ["--coord", `127.0.0.1:${c1.port}`] });
    const w = await startNode({ role: "worker", nodeId: "lead-w", args: ["--coord", `127.0.0.1:${c1.port},127.0.0.1:${c2.port}`] });
    await waitConverged([c1, c2, w]);
    for (const n of [c1, c2, w]) expect((await statusOf(n)).leader).toBe("lead-a");
    expect((await statusOf(w)).coordinators).toEqual(["lead-a", "lead-b"]);

    c1.signal("SIGKILL");
    const started = Date.now();
    await waitFor(async () => (await statusOf(c2)).leader === "lead-b" && (await statusOf(w)).leader === "lead-b", 15_000, () => "lead-b to lead");
    expect(Date.now() - started).toBeLessThan(10_000);
    // Routing goes on without the old leader.
    const res = await request(`${w.url}/rpc/example_service/hello?node=lead-b`, { token: await testToken(), body: {} });
    expect(res.status).toBe(200);

    // The old leader returns: it rejoins, and leadership stays where it is (stable rule).
    const back = await startNode({ nodeId: "lead-a", port: c1.port, args: ["--coord", `127.0.0.1:${c2.port}`] });
    await waitConverged([back, c2, w]);
    for (const n of [back, c2, w]) expect((await statusOf(n)).leader).toBe("lead-b");
  });

  it("a node with the wrong cluster key can neither join nor be seen", async () => {
    const good = await startNode({ nodeId: "key-good" });
    const bad = await startNode({ nodeId: "key-bad", role: "worker", args: ["--coord", `127.0.0.1:${good.port}`], env: { P2P_CLUSTER_KEY: "another-key" } });
    await new Promise((r) => setTimeout(r, 3000));
    expect(Object.keys(await statesSeenBy(good))).toEqual(["key-good"]);
    expect(Object.keys(await statesSeenBy(bad))).toEqual(["key-bad"]);
    // The wrong-key join is refused before any of its bytes are read as membership (a sealed
    // ticket comes first), so nothing reaches the gossip decoder; both nodes keep serving.
    expect((await request(`${good.url}/health`)).status).toBe(200);
    expect((await request(`${bad.url}/health`)).status).toBe(200);
  });
});
