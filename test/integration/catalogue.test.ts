import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { REPO_ROOT, startNode, stopAll, waitFor, type RunningNode } from "../helpers/launcher.js";
import { request, testToken } from "../helpers/http.js";

interface Service {
  name: string;
  nodes: { node_id: string; version: string; status: string; error?: string }[];
  methods: { name: string; description: string; public: boolean; idempotent: boolean; cache: { ttl_s: number } | null; params: Record<string, unknown> | null }[];
}
type OpenApi = { paths: Record<string, { post?: Record<string, unknown> }>; info: { description: string } };

let coord: RunningNode;
let worker: RunningNode;
let client: string;
const areaSchema = { type: "object", required: ["w", "h"], properties: { w: { type: "number", minimum: 0 }, h: { type: "number", minimum: 0 } }, additionalProperties: false };

beforeAll(async () => {
  coord = await startNode({ nodeId: "cat-coord" });
  worker = await startNode({ role: "worker", nodeId: "cat-w1", args: ["--coord", `127.0.0.1:${coord.port}`, "--services-dir", join(REPO_ROOT, "test/fixtures/catalogue-services")] });
  client = await testToken("client");
  await waitFor(async () => (await request<{ services: Record<string, string[]> }>(`${coord.url}/cluster/status`, { token: client })).body.services.shapes?.length === 1, 20_000);
});
afterAll(stopAll);

const services = async (url = coord.url) => (await request<{ services: Service[] }>(`${url}/cluster/services`, { token: client })).body.services;

describe("GET /cluster/services", () => {
  it("lists every service, where it runs with which version, and its methods with params schemas fetched from a host", async () => {
    const list = await services();
    const shapes = list.find((s) => s.name === "shapes")!;
    expect(shapes.nodes).toEqual([{ node_id: "cat-w1", version: "2.1.0", status: "running" }]);
    const area = shapes.methods.find((m) => m.name === "area")!;
    expect(area).toMatchObject({ description: "Area of a rectangle", public: true, idempotent: true, cache: { ttl_s: 5 }, params: areaSchema });
    expect(shapes.methods.find((m) => m.name === "reset")).toMatchObject({ public: false, idempotent: false, cache: null, params: null });
    const example = list.find((s) => s.name === "example_service")!;
    expect(example.nodes.map((n) => n.node_id)).toEqual(["cat-coord"]);
    expect(example.methods.find((m) => m.name === "add")!.params).toMatchObject({ type: "object" });
    expect(list.find((s) => s.name === "system")!.nodes.map((n) => n.node_id)).toEqual(["cat-coord", "cat-w1"]);
  });

  it("lists a service that failed to load as failed on its node, with the error", async () => {
    const broken = (await services()).find((s) => s.name === "broken")!;
    expect(broken.nodes).toEqual([{ node_id: "cat-w1", version: "", status: "failed", error: expect.stringContaining("database unreachable") }]);
    expect((await request(`${coord.url}/cluster/services`)).status).toBe(401);
  });
});

describe("versions and failed services", () => {
  it("/health says degraded and names the failed service; /local/services lists it as failed", async () => {
    const health = await request<{ status: string; reasons: string[] }>(`${worker.url}/health`);
    expect(health.status).toBe(200);
    expect(health.body.status).toBe("degraded");
    expect(health.body.reasons.join(" ")).toContain("broken");
    expect(health.body.reasons.join(" ")).toContain("database unreachable");
    const local = await request<{ services: { name: string; status: string; error?: string }[] }>(`${worker.url}/local/services`, { token: client });
    expect(local.body.services.find((s) => s.name === "broken")).toMatchObject({ status: "failed", error: expect.stringContaining("database unreachable") });
    expect(local.body.services.find((s) => s.name === "shapes")).toMatchObject({ status: "running", version: "2.1.0" });
    expect((await request<{ status: string }>(`${coord.url}/health`)).body.status).toBe("ok");
  });

  it("/cluster/nodes and /cluster/status show each service's version per node and the failed services", async () => {
    const nodes = (await request<{ nodes: Record<string, unknown>[] }>(`${coord.url}/cluster/nodes`, { token: client })).body.nodes;
    const w = nodes.find((n) => n.node_id === "cat-w1")!;
    expect(w.service_versions).toEqual({ system: expect.any(String), shapes: "2.1.0" });
    expect(w.failed_services).toEqual([{ name: "broken", error: expect.stringContaining("database unreachable") }]);
    expect(typeof w.uptime_s).toBe("number");
    expect(nodes.find((n) => n.node_id === "cat-coord")!.failed_services).toEqual([]);
    const status = (await request<{ versions: Record<string, Record<string, string>> }>(`${coord.url}/cluster/status`, { token: client })).body;
    expect(status.versions.shapes).toEqual({ "cat-w1": "2.1.0" });
    expect(Object.keys(status.versions.system!).sort()).toEqual(["cat-coord", "cat-w1"]);
  });
});

describe("live API catalogue", () => {
  it("/openapi.json and /docs/json list every method of the cluster as its own path, and follow services as they go", async () => {
    for (const path of ["/openapi.json", "/docs/json"]) {
      const doc = (await request<OpenApi>(`${coord.url}${path}`)).body;
      const area = doc.paths["/rpc/shapes/area"]?.post as Record<string, unknown>;
      expect(area).toMatchObject({ tags: ["shapes"], summary: "Area of a rectangle", "x-p2p-public": true, "x-p2p-idempotent": true, "x-p2p-cache": { ttl_s: 5 } });
      expect((area.requestBody as { content: Record<string, { schema: { properties: { params: unknown } } }> }).content["application/json"]!.schema.properties.params).toEqual(areaSchema);
      expect(doc.paths["/rpc/shapes/reset"]?.post).toMatchObject({ "x-p2p-public": false });
      expect(doc.paths["/rpc/example_service/hello"]?.post).toMatchObject({ summary: "Say hello" });
      expect(doc.paths["/cluster/metrics"]).toBeDefined();
      expect(doc.info.description).not.toMatch(/CONTRACT|§/);
    }
    await worker.stop();
    await waitFor(async () => !(await request<OpenApi>(`${coord.url}/openapi.json`)).body.paths["/rpc/shapes/area"], 15_000, () => "shapes gone from the catalogue");
    expect((await services()).find((s) => s.name === "shapes")?.nodes.every((n) => n.status !== "running") ?? true).toBe(true);
  });
});
