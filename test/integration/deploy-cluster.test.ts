import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { REPO_ROOT, startNode, stopAll, waitFor, type RunningNode } from "../helpers/launcher.js";
import { request, testToken } from "../helpers/http.js";
import { waitConverged } from "../helpers/cluster.js";
import { callService, deploy, fixtureBundle, loadLoop, upload, waitForDeployment } from "../helpers/deploy.js";

const NO_SERVICES = join(REPO_ROOT, "test/fixtures/empty-services");
let coord: RunningNode;
let workers: RunningNode[];

beforeAll(async () => {
  coord = await startNode({ nodeId: "dc-coord" });
  // Workers have no static services (quicker to start on a busy machine); the coordinator has example_service.
  const seed = ["--coord", `127.0.0.1:${coord.port}`, "--services-dir", NO_SERVICES];
  workers = [];
  for (const [id, zone] of [["dc-w1", "a"], ["dc-w2", "b"], ["dc-w3", "b"]] as const) {
    workers.push(await startNode({ role: "worker", nodeId: id, args: [...seed, "--labels", `zone=${zone}`] }));
  }
  await waitConverged([coord, ...workers], 30_000);
});
afterAll(stopAll);

const workerIds = () => workers.map((w) => w.nodeId).sort();

describe("deploying services to a running cluster", () => {
  it("deploys to a role, runs on every matching node, and answers from any node", async () => {
    const res = await deploy(coord, "greeter", "greeter", { role: "worker" });
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ service: "greeter", generation: 1, status: "rolling" });
    const view = await waitForDeployment(workers[2]!, "greeter", (d) => d.status === "ready");
    expect(Object.keys(view.nodes).sort()).toEqual(workerIds());
    expect(view).toMatchObject({ version: "1.0.0", artifact: res.sha256, generation: 1 });
    const seen = new Set<string>();
    for (let i = 0; i < 30; i++) {
      const out = await callService(coord, "greeter/hello", { name: "Ada" });
      expect(out.status).toBe(200);
      expect(out.body.result).toMatchObject({ message: "Hello, Ada!", version: 1 });
      seen.add(out.node!);
    }
    expect([...seen].every((n) => workerIds().includes(n))).toBe(true);
    // A deployed service calls others through the same proxy as a static one.
    expect((await callService(workers[0]!, "greeter/relay")).body.result).toMatchObject({ status: "ok" });
    const local = await request<{ services: { name: string; version: string; artifact?: string }[] }>(`${workers[0]!.url}/local/services`, { token: await testToken("client") });
    expect(local.body.services.find((s) => s.name === "greeter")).toMatchObject({ version: "1.0.0", artifact: res.sha256 });
  }, 180_000);

  it("redeploys under load with zero failed calls, one node at a time", async () => {
    const load = loadLoop(coord, "greeter/slow");
    await waitFor(() => load.calls() > 20, 20_000);
    const res = await deploy(workers[1]!, "greeter", "greeter-v2", { role: "worker" });
    expect(res.body).toMatchObject({ generation: 2 });
    await waitForDeployment(coord, "greeter", (d) => d.status === "ready" && d.version === "2.0.0", 60_000);
    await waitFor(() => load.seen.has(2), 10_000);
    await load.stop();
    expect(load.failures).toEqual([]);
    expect(load.calls()).toBeGreaterThan(40);
  }, 180_000);

  it("a version that fails to initialise stops the rollout; the node keeps the previous version and the status says why", async () => {
    const load = loadLoop(coord, "greeter/slow", { parallel: 2 });
    const res = await deploy(coord, "greeter", "broken-init", { role: "worker" });
    expect(res.body).toMatchObject({ generation: 3 });
    const view = await waitForDeployment(coord, "greeter", (d) => d.status === "failed", 60_000);
    const failed = Object.values(view.nodes).filter((n) => n.state === "failed");
    expect(failed).toHaveLength(1);
    expect(failed[0]!.error).toMatch(/cannot connect to the database/);
    // Nobody runs the broken version; calls keep working on version 2.
    const v2 = (await fixtureBundle("greeter-v2")).sha256;
    expect(Object.values(view.nodes).every((n) => n.artifact === v2)).toBe(true);
    await load.stop();
    expect(load.failures).toEqual([]);
    expect([...load.seen]).toEqual([2]);
  }, 180_000);

  it("rollback returns to the previous artifact everywhere", async () => {
    const res = await request(`${workers[2]!.url}/admin/deployments/greeter/rollback`, { method: "POST", token: await testToken("admin"), body: {} });
    expect(res.status).toBe(202);
    const view = await waitForDeployment(coord, "greeter", (d) => d.status === "rolled_back");
    expect(view).toMatchObject({ artifact: (await fixtureBundle("greeter-v2")).sha256, version: "2.0.0", generation: 4 });
  }, 180_000);

  it("deploys to labels with a count, and to named nodes", async () => {
    const counted = await deploy(coord, "greeter_b", "greeter", { labels: { zone: "b" }, count: 1 });
    expect(counted.status).toBe(202);
    const view = await waitForDeployment(coord, "greeter_b", (d) => d.status === "ready");
    expect(Object.keys(view.nodes)).toHaveLength(1);
    expect(["dc-w2", "dc-w3"]).toContain(Object.keys(view.nodes)[0]);
    const tooMany = await deploy(coord, "greeter_a", "greeter", { labels: { zone: "a" }, count: 2 });
    expect(tooMany.status).toBe(202);
    const short = await waitForDeployment(coord, "greeter_a", (d) => Object.values(d.nodes).some((n) => n.state === "running"));
    expect(short.status).toBe("rolling");
    expect(short.message).toMatch(/only 1 of 2/);
    const named = await deploy(coord, "greeter_n", "greeter", { nodes: ["dc-coord", "dc-w3"] });
    expect(named.status).toBe(202);
    const nv = await waitForDeployment(workers[0]!, "greeter_n", (d) => d.status === "ready");
    expect(Object.keys(nv.nodes).sort()).toEqual(["dc-coord", "dc-w3"]);
    expect((await callService(coord, "greeter_n/hello")).node).toBe("dc-coord");
  }, 180_000);

  it("undeploy stops and removes the service everywhere", async () => {
    const res = await request(`${coord.url}/admin/deployments/greeter_n`, { method: "DELETE", token: await testToken("admin") });
    expect(res.status).toBe(202);
    await waitFor(async () => (await callService(workers[0]!, "greeter_n/hello")).status === 404, 20_000);
    expect((await request(`${workers[1]!.url}/admin/deployments/greeter_n`, { token: await testToken("admin") })).status).toBe(404);
    const list = await request<{ deployments: { service: string }[] }>(`${workers[1]!.url}/admin/deployments`, { token: await testToken("admin") });
    expect(list.body.deployments.map((d) => d.service)).not.toContain("greeter_n");
  }, 180_000);

  it("refuses to deploy over a static service (409) and bad requests (400)", async () => {
    const res = await deploy(coord, "example_service", "greeter");
    expect(res.status).toBe(409);
    expect(res.body).toMatchObject({ error: { code: "CONFLICT" } });
    const admin = await testToken("admin");
    const missing = await request(`${coord.url}/admin/deployments`, { token: admin, body: { service: "x", artifact: "a".repeat(64) } });
    expect(missing.status).toBe(400);
    const badPlacement = await request(`${coord.url}/admin/deployments`, { token: admin, body: { service: "x", artifact: "a".repeat(64), placement: { count: -1 } } });
    expect(badPlacement.status).toBe(400);
    expect((await request(`${coord.url}/admin/deployments/ghost/rollback`, { method: "POST", token: admin, body: {} })).status).toBe(404);
  }, 180_000);

  it("refuses the client role on every deployment route", async () => {
    const client = await testToken("client");
    const bundle = await fixtureBundle("greeter");
    const routes: [string, string, unknown?][] = [
      ["GET", "/admin/deployments"],
      ["GET", "/admin/deployments/greeter"],
      ["POST", "/admin/deployments", { service: "greeter", artifact: bundle.sha256 }],
      ["DELETE", "/admin/deployments/greeter"],
      ["POST", "/admin/deployments/greeter/rollback", {}],
    ];
    for (const [method, path, body] of routes) {
      expect((await request(`${coord.url}${path}`, { method, token: client, ...(body !== undefined ? { body } : {}) })).status, `${method} ${path}`).toBe(403);
    }
    expect(await upload(coord, bundle, { authorization: `Bearer ${client}` })).toBe(403);
  }, 180_000);
});
