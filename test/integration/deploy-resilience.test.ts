import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, REPO_ROOT, startNode, stopAll, waitFor, type RunningNode } from "../helpers/launcher.js";
import { request, testToken } from "../helpers/http.js";
import { waitConverged, waitUntilAllSee } from "../helpers/cluster.js";
import { callService, deploy, deploymentOn, fixtureBundle, upload, waitForDeployment } from "../helpers/deploy.js";
import type { DeploymentView } from "../../src/deploy/types.js";

/**
 * The desired state against failures: a node killed with SIGKILL, every node killed and
 * restarted from its --data-dir, a node that joins late, two admins deploying at once.
 */
const NO_SERVICES = join(REPO_ROOT, "test/fixtures/empty-services");
const sandbox = mkdtempSync(join(tmpdir(), "p2p-deploy-res-"));

interface Spec {
  nodeId: string;
  role: "coordinator" | "worker";
  port: number;
  zone: string;
}
const specs: Spec[] = [];
const nodes = new Map<string, RunningNode>();
const node = (id: string): RunningNode => nodes.get(id)!;
let coordPort = 0;

/** Starts (or restarts) a node with its own data dir and port, so a restart finds what it persisted. */
async function launch(spec: Spec): Promise<RunningNode> {
  const args = ["--data-dir", join(sandbox, spec.nodeId), "--services-dir", NO_SERVICES, "--labels", `zone=${spec.zone}`];
  if (spec.role === "worker") args.push("--coord", `127.0.0.1:${coordPort}`);
  const n = await startNode({ role: spec.role, nodeId: spec.nodeId, port: spec.port, args });
  nodes.set(spec.nodeId, n);
  return n;
}

async function addNode(nodeId: string, role: Spec["role"], zone: string): Promise<RunningNode> {
  const spec = { nodeId, role, zone, port: await freePort() };
  specs.push(spec);
  if (role === "coordinator") coordPort = spec.port;
  return launch(spec);
}

const running = () => specs.map((s) => node(s.nodeId)).filter((n) => n.child.exitCode === null && n.child.signalCode === null);

/** service → what the desired state says (the parts that must be equal everywhere). */
async function desiredOn(n: RunningNode): Promise<Record<string, { artifact: string; generation: number }>> {
  const res = await request<{ deployments: DeploymentView[] }>(`${n.url}/admin/deployments`, { token: await testToken("admin") });
  return Object.fromEntries(res.body.deployments.map((d) => [d.service, { artifact: d.artifact, generation: d.generation }]));
}

beforeAll(async () => {
  await addNode("dr-coord", "coordinator", "a");
  for (const [id, zone] of [["dr-w1", "a"], ["dr-w2", "b"], ["dr-w3", "b"]] as const) await addNode(id, "worker", zone);
  await waitConverged(running(), 30_000);
}, 180_000);
afterAll(stopAll);

describe("deployments survive failures", () => {
  it("kill -9 of the node running a counted service: another matching node runs it within 15 s", async () => {
    expect((await deploy(node("dr-coord"), "counted", "greeter", { labels: { zone: "b" }, count: 1 })).status).toBe(202);
    const before = await waitForDeployment(node("dr-coord"), "counted", (d) => d.status === "ready");
    const [holder] = Object.keys(before.nodes);
    const other = holder === "dr-w2" ? "dr-w3" : "dr-w2";
    expect(["dr-w2", "dr-w3"]).toContain(holder);

    const killedAt = Date.now();
    node(holder!).signal("SIGKILL");
    await node(holder!).exited;
    let replacedAfter = 0;
    await waitFor(async () => {
      const call = await callService(node("dr-w1"), "counted/hello", { name: "again" });
      if (call.status !== 200 || call.node !== other) return false;
      replacedAfter = Date.now() - killedAt;
      return true;
    }, 30_000, () => `counted to run on ${other}`);
    const after = await waitForDeployment(node("dr-coord"), "counted", (d) => d.status === "ready");
    expect(Object.keys(after.nodes)).toEqual([other]);
    expect(replacedAfter).toBeLessThan(15_000);

    // The killed node comes back with what it persisted.
    await launch(specs.find((s) => s.nodeId === holder)!);
    await waitConverged(running(), 30_000);
    await waitForDeployment(node(holder!), "counted", (d) => d.status === "ready" && d.generation === 1);
  }, 180_000);

  it("a node that joins later and matches gets its services", async () => {
    expect((await deploy(node("dr-coord"), "workers_all", "greeter", { role: "worker" })).status).toBe(202);
    expect((await deploy(node("dr-w1"), "zone_c", "greeter", { labels: { zone: "c" }, count: 1 })).status).toBe(202);
    await waitForDeployment(node("dr-coord"), "workers_all", (d) => d.status === "ready");
    const short = await waitForDeployment(node("dr-coord"), "zone_c", (d) => d.message !== undefined);
    expect(short.status).toBe("rolling");
    expect(short.message).toMatch(/only 0 of 1/);

    await addNode("dr-w4", "worker", "c");
    await waitConverged(running(), 30_000);
    const zoneC = await waitForDeployment(node("dr-w2"), "zone_c", (d) => d.status === "ready");
    expect(Object.keys(zoneC.nodes)).toEqual(["dr-w4"]);
    expect(zoneC.message).toBeUndefined();
    const all = await waitForDeployment(node("dr-w2"), "workers_all", (d) => d.status === "ready" && "dr-w4" in d.nodes);
    expect(Object.keys(all.nodes).sort()).toEqual(["dr-w1", "dr-w2", "dr-w3", "dr-w4"]);
    // The coordinator routes to dr-w4 once the new member's metadata (its services) reached it.
    let answer = await callService(node("dr-coord"), "zone_c/hello");
    await waitFor(async () => (answer = await callService(node("dr-coord"), "zone_c/hello")).status === 200, 15_000, () => `zone_c/hello through dr-coord (last: ${answer.status})`);
    expect(answer.node).toBe("dr-w4");
  }, 180_000);

  it("two deploys sent to two nodes at once end with one winner on every node", async () => {
    const [v1, v2] = [await fixtureBundle("greeter"), await fixtureBundle("greeter-v2")];
    expect(await upload(node("dr-coord"), v1)).toBe(201);
    expect(await upload(node("dr-w3"), v2)).toBe(201);
    const admin = await testToken("admin");
    const placement = { role: "worker" };
    const answers = await Promise.all([
      request(`${node("dr-coord").url}/admin/deployments`, { token: admin, body: { service: "race", artifact: v1.sha256, placement } }),
      request(`${node("dr-w3").url}/admin/deployments`, { token: admin, body: { service: "race", artifact: v2.sha256, placement } }),
    ]);
    expect(answers.map((a) => a.status)).toEqual([202, 202]);

    let views: (DeploymentView | undefined)[] = [];
    await waitFor(async () => {
      views = await Promise.all(running().map((n) => deploymentOn(n, "race")));
      return views.every((v) => v?.status === "ready" && v.generation === views[0]!.generation && v.artifact === views[0]!.artifact);
    }, 60_000, () => `one winner everywhere: ${JSON.stringify(views.map((v) => v && [v.generation, v.artifact.slice(0, 8), v.status]))}`);
    const winner = views[0]!;
    expect([v1.sha256, v2.sha256]).toContain(winner.artifact);
    expect(winner.generation).toBe(Math.max(...answers.map((a) => a.body.generation as number)));
    const expectedVersion = winner.artifact === v1.sha256 ? 1 : 2;
    for (const n of running()) {
      const call = await callService(n, "race/hello");
      expect(call.status).toBe(200);
      expect((call.body.result as { version: number }).version).toBe(expectedVersion);
    }
  }, 180_000);

  it("a node cut off (SIGSTOP) while a redeploy happens catches up when it is back", async () => {
    const v2 = await fixtureBundle("greeter-v2");
    const others = () => running().filter((n) => n.nodeId !== "dr-w1");
    node("dr-w1").signal("SIGSTOP");
    try {
      await waitUntilAllSee(others(), "dr-w1", "dead", 30_000);
      const res = await deploy(node("dr-coord"), "workers_all", "greeter-v2", { role: "worker" });
      expect(res.status).toBe(202);
      const generation = res.body.generation as number;
      const without = await waitForDeployment(node("dr-coord"), "workers_all", (d) => d.status === "ready" && d.generation === generation);
      expect(Object.keys(without.nodes).sort()).toEqual(["dr-w2", "dr-w3", "dr-w4"]);
    } finally {
      node("dr-w1").signal("SIGCONT");
    }
    await waitConverged(running(), 30_000);
    const healed = await waitForDeployment(node("dr-w1"), "workers_all", (d) => d.status === "ready" && d.artifact === v2.sha256 && "dr-w1" in d.nodes);
    expect(healed.nodes["dr-w1"]).toMatchObject({ state: "running", artifact: v2.sha256 });
    const onW1 = await request<{ result: { version: number } }>(`${node("dr-coord").url}/rpc/workers_all/hello?node=dr-w1`, { token: await testToken("admin"), body: { params: {} } });
    expect(onW1).toMatchObject({ status: 200, body: { result: { version: 2 } } });
  }, 180_000);

  it("every node killed (-9) and restarted: the same deployments come back from each --data-dir", async () => {
    const before = await desiredOn(node("dr-coord"));
    expect(Object.keys(before).sort()).toEqual(["counted", "race", "workers_all", "zone_c"]);
    for (const n of running()) await waitFor(async () => JSON.stringify(await desiredOn(n)) === JSON.stringify(before), 20_000);

    const all = running();
    for (const n of all) n.signal("SIGKILL");
    await Promise.all(all.map((n) => n.exited));
    await launch(specs[0]!);
    await Promise.all(specs.slice(1).map((s) => launch(s)));
    await waitConverged(running(), 60_000);

    for (const n of running()) expect(await desiredOn(n), n.nodeId).toEqual(before);
    for (const service of Object.keys(before)) await waitForDeployment(node("dr-w1"), service, (d) => d.status === "ready", 60_000);
    expect((await callService(node("dr-coord"), "zone_c/hello")).node).toBe("dr-w4");
    expect((await callService(node("dr-coord"), "race/hello")).status).toBe(200);
  }, 240_000);
});
