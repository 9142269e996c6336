import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SignJWT } from "jose";
import { request as httpRequest } from "node:http";
import { startNode, stopAll, type RunningNode, TEST_SECRETS } from "../helpers/launcher.js";
import { request, testToken } from "../helpers/http.js";

let node: RunningNode;
let admin: string;
let client: string;

beforeAll(async () => {
  node = await startNode({ args: ["--rate-limit", "0"] });
  admin = await testToken("admin");
  client = await testToken("client");
});
afterAll(stopAll);

const rpc = (path: string, init: Parameters<typeof request>[1] = {}) => request(`${node.url}/rpc/${path}`, { method: "POST", token: admin, ...init });

describe("health and auth", () => {
  it("GET /health answers ok without a token", async () => {
    const res = await request(`${node.url}/health`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: "ok", node_id: node.nodeId, role: "coordinator", version: expect.any(String) });
    expect(typeof res.body.uptime_s).toBe("number");
  });

  it("POST /auth/token gives the role its key grants", async () => {
    const a = await request(`${node.url}/auth/token`, { body: { node_id: "client-1", api_key: TEST_SECRETS.P2P_API_KEY } });
    expect(a.status).toBe(200);
    expect(a.body).toMatchObject({ token_type: "bearer", expires_in: 3600, role: "admin" });
    const c = await request(`${node.url}/auth/token`, { body: { node_id: "client-2", api_key: TEST_SECRETS.P2P_CLIENT_KEY } });
    expect(c.body.role).toBe("client");
    const nodes = await request(`${node.url}/cluster/nodes`, { token: String(c.body.access_token) });
    expect(nodes.status).toBe(200);
  });

  it("a wrong or missing key gets 401", async () => {
    expect((await request(`${node.url}/auth/token`, { body: { node_id: "x", api_key: "wrong" } })).status).toBe(401);
    expect((await request(`${node.url}/auth/token`, { body: { node_id: "x" } })).status).toBe(401);
  });

  it("missing, malformed, badly signed, alg:none and expired tokens get 401", async () => {
    const url = `${node.url}/cluster/nodes`;
    const enc = (o: object) => Buffer.from(JSON.stringify(o)).toString("base64url");
    const now = Math.floor(Date.now() / 1000);
    const algNone = `${enc({ alg: "none", typ: "JWT" })}.${enc({ sub: "x", role: "admin", iss: "p2p-core", exp: now + 600 })}.`;
    const wrongKey = await new SignJWT({ role: "admin" }).setProtectedHeader({ alg: "HS256" }).setSubject("x").setIssuer("p2p-core").setExpirationTime(now + 600).sign(new TextEncoder().encode("another-secret-0123456789"));
    const expired = await new SignJWT({ role: "admin" }).setProtectedHeader({ alg: "HS256" }).setSubject("x").setIssuer("p2p-core").setIssuedAt(now - 7200).setExpirationTime(now - 3600).sign(new TextEncoder().encode(TEST_SECRETS.P2P_JWT_SECRET));
    expect((await request(url)).status).toBe(401);
    expect((await request(url, { headers: { authorization: "Token abc" } })).status).toBe(401);
    for (const token of ["garbage", algNone, wrongKey, expired]) {
      const res = await request(url, { token });
      expect(res.status).toBe(401);
      expect(res.body).toMatchObject({ error: { code: "UNAUTHORIZED" } });
    }
  });

  it("a client token gets 403 on admin routes and non-public methods", async () => {
    expect((await request(`${node.url}/debug/registry`, { token: client })).status).toBe(403);
    expect((await request(`${node.url}/admin/broadcast`, { token: client, body: { service: "system", method: "health_check" } })).status).toBe(403);
    const res = await rpc("example_service/secret", { token: client });
    expect(res.status).toBe(403);
    expect(res.body).toMatchObject({ error: { code: "FORBIDDEN" } });
    expect((await rpc("example_service/secret")).status).toBe(200);
  });
});

describe("cluster and local views", () => {
  it("GET /cluster/nodes lists this node with the contract's Node shape", async () => {
    const res = await request<{ nodes: Record<string, unknown>[] }>(`${node.url}/cluster/nodes`, { token: client });
    expect(res.body.nodes).toHaveLength(1);
    expect(res.body.nodes[0]).toMatchObject({ node_id: node.nodeId, role: "coordinator", address: `127.0.0.1:${node.port}`, state: "alive", incarnation: expect.any(Number) });
    expect(res.body.nodes[0]!.services).toEqual(expect.arrayContaining(["system", "example_service"]));
    expect(new Date(String(res.body.nodes[0]!.last_change)).toString()).not.toBe("Invalid Date");
  });

  it("GET /cluster/status names the leader, counts and services", async () => {
    const res = await request(`${node.url}/cluster/status`, { token: client });
    expect(res.body).toMatchObject({
      node_id: node.nodeId,
      role: "coordinator",
      leader: node.nodeId,
      members: { alive: 1, suspect: 0, dead: 0, left: 0 },
      coordinators: [node.nodeId],
      services: { system: [node.nodeId], example_service: [node.nodeId] },
    });
  });

  it("GET /local/services lists services and their methods", async () => {
    const res = await request<{ services: { name: string; status: string; methods: { name: string; public: boolean }[] }[] }>(`${node.url}/local/services`, { token: client });
    const system = res.body.services.find((s) => s.name === "system")!;
    expect(system.status).toBe("running");
    expect(system.methods.map((m) => m.name).sort()).toEqual(["get_system_info", "get_system_metrics", "health_check"]);
    const example = res.body.services.find((s) => s.name === "example_service")!;
    expect(example.methods.find((m) => m.name === "secret")!.public).toBe(false);
  });

  it("GET /debug/registry shows services, methods and where they run", async () => {
    const res = await request<{ services: Record<string, { alive_nodes: string[] }> }>(`${node.url}/debug/registry`, { token: admin });
    expect(res.status).toBe(200);
    expect(res.body.services.example_service!.alive_nodes).toEqual([node.nodeId]);
  });
});

describe("RPC", () => {
  it("runs a method and names the node in x-p2p-node", async () => {
    const res = await rpc("example_service/hello", { body: { params: { name: "Ada" }, id: "req-1", method: "ignored" } });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ id: "req-1", result: { message: "Hello, Ada!", node: node.nodeId } });
    expect(res.headers.get("x-p2p-node")).toBe(node.nodeId);
  });

  it("accepts a call without a body, and numeric ids", async () => {
    expect((await rpc("system/health_check")).body).toMatchObject({ id: null, result: { status: "ok" } });
    expect((await rpc("system/health_check", { body: { id: 7 } })).body).toMatchObject({ id: 7 });
  });

  it("the built-in system service answers", async () => {
    expect((await rpc("system/get_system_info", { token: client })).body).toMatchObject({ result: { node_id: node.nodeId, pid: node.pid } });
    expect((await rpc("system/get_system_metrics", { token: client })).body).toMatchObject({ result: { memory: { rss_mb: expect.any(Number) } } });
  });

  it("answers every error row of the contract", async () => {
    const cases: [string, Parameters<typeof request>[1], number, string][] = [
      ["example_service/add", { rawBody: "{not json" }, 400, "BAD_REQUEST"],
      ["example_service/add", { rawBody: "[1,2]" }, 400, "BAD_REQUEST"],
      ["example_service/add", { rawBody: '"text"' }, 400, "BAD_REQUEST"],
      ["example_service/add", { body: { params: [1, 2] } }, 400, "INVALID_PARAMS"],
      ["example_service/add", { body: { params: "x" } }, 400, "INVALID_PARAMS"],
      ["example_service/add", { body: { params: { a: 1 } } }, 400, "INVALID_PARAMS"],
      ["example_service/add", { body: { params: { a: 1, b: "2" } } }, 400, "INVALID_PARAMS"],
      ["nope/hello", {}, 404, "SERVICE_NOT_FOUND"],
      ["example_service/nope", {}, 404, "METHOD_NOT_FOUND"],
      ["example_service/hello?node=ghost", {}, 404, "NODE_NOT_FOUND"],
      ["example_service/fail", { body: { params: { message: "kaput" } } }, 500, "INTERNAL"],
    ];
    for (const [path, init, status, code] of cases) {
      const res = await rpc(path, init);
      expect(res.status, `${path} ${JSON.stringify(init)}`).toBe(status);
      expect(res.body, path).toMatchObject({ error: { code } });
      expect(JSON.stringify(res.body)).not.toMatch(/at .*\.(js|ts):\d+/);
    }
    expect((await rpc("example_service/fail", { body: { params: { message: "kaput" } } })).body).toMatchObject({ error: { message: "kaput" } });
    expect((await rpc("example_service/add", { body: { params: { a: 2, b: 3 } } })).body).toMatchObject({ result: { sum: 5 } });
  });

  it("413 over 1 MiB", async () => {
    // node:http, not fetch: the node may answer before the client has finished uploading, and
    // what counts is that answer (fetch can report the early close instead of the response).
    const body = JSON.stringify({ params: { blob: "x".repeat(1024 * 1024 + 10) } });
    const res = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      let answered = false;
      const req = httpRequest(`${node.url}/rpc/example_service/echo`, { method: "POST", headers: { authorization: `Bearer ${admin}`, "content-type": "application/json", "content-length": Buffer.byteLength(body) } }, (response) => {
        answered = true;
        let text = "";
        response.on("data", (chunk: Buffer) => (text += chunk.toString()));
        response.on("end", () => resolve({ status: response.statusCode ?? 0, text }));
      });
      // A write error after the node answered (it stopped reading the body) is expected; no answer at all is not.
      req.on("error", () => undefined);
      req.on("close", () => (answered ? undefined : reject(new Error("the node closed the connection without an answer"))));
      req.end(body);
    });
    expect(res.status).toBe(413);
    expect(JSON.parse(res.text)).toMatchObject({ error: { code: "PAYLOAD_TOO_LARGE" } });
  });

  it("a 500 ms deadline gives 504 in time", async () => {
    const started = Date.now();
    const res = await rpc("example_service/sleep", { body: { params: { ms: 3000 } }, headers: { "x-p2p-timeout-ms": "500" } });
    const elapsed = Date.now() - started;
    expect(res.status).toBe(504);
    expect(res.body).toMatchObject({ error: { code: "TIMEOUT" } });
    expect(elapsed).toBeGreaterThanOrEqual(450);
    expect(elapsed).toBeLessThan(2000);
    expect((res.body as { error: { message: string } }).error.message).toBe("deadline of 500 ms exceeded");
    expect((await rpc("example_service/hello", { headers: { "x-p2p-timeout-ms": "soon" } })).status).toBe(400);
    expect((await rpc("example_service/hello", { headers: { "x-p2p-timeout-ms": "1.5" } })).status).toBe(200);
    expect((await rpc("example_service/hello", { headers: { "x-p2p-balancer": "fastest" } })).body).toMatchObject({ error: { code: "BAD_REQUEST" } });
    expect((await rpc("example_service/hello", { headers: { "x-p2p-balancer": "random", traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" } })).status).toBe(200);
  });

  it("service proxies call other services with the caller's deadline", async () => {
    const res = await rpc("example_service/relay", { token: client });
    expect(res.body).toMatchObject({ result: { via: node.nodeId, health: { status: "ok" } } });
  });

  it("malformed input never crashes the node", async () => {
    const junk = ["", "{", "null", "0", "true", '{"params":null}', '{"id":{}}', '{"__proto__":{"x":1}}', "\u0000\u0001", "{".repeat(5000)];
    for (const rawBody of junk) {
      const res = await rpc("example_service/echo", { rawBody, headers: { "content-type": "text/plain" } });
      expect(res.status, rawBody.slice(0, 20)).toBeLessThan(500);
    }
    expect((await request(`${node.url}/rpc/%00/%ff`, { method: "POST", token: admin })).status).toBeLessThan(500);
    expect((await request(`${node.url}/health`)).status).toBe(200);
  });
});

describe("admin, metrics and docs", () => {
  it("POST /admin/broadcast calls every alive host", async () => {
    const res = await request(`${node.url}/admin/broadcast`, { token: admin, body: { service: "system", method: "health_check", timeout_ms: 2000 } });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ ok: 1, failed: 0, results: { [node.nodeId]: { result: { status: "ok" } } } });
    expect((await request(`${node.url}/admin/broadcast`, { token: admin, body: { service: "ghost", method: "x" } })).status).toBe(404);
  });

  it("POST /admin/cache/invalidate answers a count", async () => {
    const res = await request(`${node.url}/admin/cache/invalidate`, { token: admin, body: { service: "example_service" } });
    expect(res.status).toBe(200);
    expect(typeof res.body.invalidated).toBe("number");
  });

  it("GET /metrics is Prometheus text with p2p_ metrics", async () => {
    await rpc("example_service/hello");
    const res = await request(`${node.url}/metrics`, { token: client });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/plain");
    expect(String(res.body)).toMatch(/p2p_rpc_requests_total\{service="example_service",method="hello",code="OK"/);
    expect(String(res.body)).toMatch(/p2p_rpc_duration_seconds_bucket/);
  });

  it("serves the OpenAPI document and Swagger UI", async () => {
    const doc = await request<{ openapi: string; paths: Record<string, unknown> }>(`${node.url}/openapi.json`);
    expect(doc.body.openapi).toMatch(/^3\./);
    for (const path of ["/health", "/auth/token", "/cluster/nodes", "/cluster/status", "/local/services", "/rpc/{service}/{method}", "/admin/broadcast", "/admin/cache/invalidate", "/debug/registry", "/metrics"]) {
      expect(doc.body.paths, path).toHaveProperty([path]);
    }
    // /rpc checks its request by hand (no validator per request): its request schemas are still documented.
    const rpcDoc = (doc.body.paths["/rpc/{service}/{method}"] as { post: { requestBody: unknown; parameters: { in: string; name: string; schema: unknown }[] } }).post;
    expect(rpcDoc.requestBody).toEqual({
      required: true,
      content: { "application/json": { schema: { type: "object", properties: { params: { type: "object", additionalProperties: true }, id: { anyOf: [{ type: "string" }, { type: "number" }] }, method: {} } } } },
    });
    expect(rpcDoc.parameters.map((p) => `${p.in} ${p.name}`).sort()).toEqual(["header traceparent", "header x-p2p-balancer", "header x-p2p-timeout-ms", "path method", "path service", "query node"]);
    expect(rpcDoc.parameters.find((p) => p.name === "service")?.schema).toEqual({ type: "string", pattern: "^[A-Za-z_][A-Za-z0-9_-]{0,63}$" });
    const ui = await fetch(`${node.url}/docs`);
    expect(ui.status).toBe(200);
  });

  it("unknown routes get a JSON 404", async () => {
    const res = await request(`${node.url}/nope`, { token: admin });
    expect(res.status).toBe(404);
    expect(res.body).toMatchObject({ error: { code: "NOT_FOUND" } });
  });
});
