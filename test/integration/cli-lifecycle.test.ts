import { afterAll, describe, expect, it } from "vitest";
import { mkdirSync, rmSync, writeFileSync, readFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT, runCli, startNode, stopAll, TEST_SECRETS, waitFor } from "../helpers/launcher.js";
import { request, testToken } from "../helpers/http.js";

afterAll(stopAll);

describe("command line", () => {
  it("a bad flag or value exits non-zero with one clear line", async () => {
    for (const args of [["coordinator", "--port", "abc"], ["worker", "--port", "70000"], ["coordinator", "--address", "not-an-ip"], ["worker", "--coord", "nohostport"], ["coordinator", "--bogus"], ["coordinator", "--redis-url", "http://x"], ["launch"]]) {
      const res = await runCli(args);
      expect(res.code, args.join(" ")).not.toBe(0);
      expect(res.stderr.trim().split("\n")[0]!.length).toBeGreaterThan(5);
      expect(res.stderr, args.join(" ")).not.toMatch(/\n\s+at /);
    }
    const bad = await runCli(["coordinator", "--port", "abc"]);
    expect(bad.stderr.trim()).toBe('p2p: --port: "abc" is not a port number (1-65535)');
    const env = await runCli(["coordinator"], { P2P_PORT: "x1" });
    expect(env.stderr.trim()).toBe('p2p: P2P_PORT: "x1" is not a port number (1-65535)');
  });

  it("p2p token mints a token every node of the cluster accepts", async () => {
    const node = await startNode();
    const minted = await runCli(["token", "--role", "client", "--sub", "ci", "--ttl", "15m"], { P2P_JWT_SECRET: TEST_SECRETS.P2P_JWT_SECRET });
    expect(minted.code).toBe(0);
    const token = minted.stdout.trim();
    expect((await request(`${node.url}/cluster/status`, { token })).status).toBe(200);
    expect((await request(`${node.url}/debug/registry`, { token })).status).toBe(403);
    const noSecret = await runCli(["token"], { P2P_JWT_SECRET: undefined });
    expect(noSecret.code).not.toBe(0);
    expect(noSecret.stderr).toMatch(/P2P_JWT_SECRET/);
    expect((await runCli(["token", "--role", "root"], { P2P_JWT_SECRET: "x".repeat(32) })).code).not.toBe(0);
    expect((await runCli(["token", "--ttl", "forever"], { P2P_JWT_SECRET: "x".repeat(32) })).code).not.toBe(0);
    await node.stop();
  });

  it("development mode generates secrets, warns and prints a working admin token", async () => {
    const node = await startNode({ secrets: false });
    await waitFor(() => /P2P_ADMIN_TOKEN=\S+/.test(node.output()), 5000);
    const token = /P2P_ADMIN_TOKEN=(\S+)/.exec(node.output())![1]!;
    const apiKey = /P2P_API_KEY=(\S+)/.exec(node.output())![1]!;
    expect(node.output()).toMatch(/DEVELOPMENT MODE/);
    expect((await request(`${node.url}/debug/registry`, { token })).status).toBe(200);
    const issued = await request(`${node.url}/auth/token`, { body: { node_id: "me", api_key: apiKey } });
    expect(issued.body.role).toBe("admin");
    // A token signed with the test secret is not accepted: the generated secret is random.
    expect((await request(`${node.url}/cluster/nodes`, { token: await testToken() })).status).toBe(401);
    await node.stop();
  });

  it("over a configured rate, calls get 429 RATE_LIMITED", async () => {
    const node = await startNode({ args: ["--rate-limit", "5"] });
    const token = await testToken("client");
    const statuses = await Promise.all(Array.from({ length: 20 }, () => request(`${node.url}/rpc/system/health_check`, { method: "POST", token }).then((r) => r.status)));
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(5);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThan(0);
    // A bucket refills 5 a second: a slow machine may let one more through, not a burst.
    const next = await Promise.all(Array.from({ length: 10 }, () => request(`${node.url}/rpc/system/health_check`, { method: "POST", token })));
    const limited = next.find((r) => r.status === 429);
    expect(limited?.body).toMatchObject({ error: { code: "RATE_LIMITED" } });
    await node.stop();
  });
});

describe("services written as the README teaches", () => {
  const dir = join(REPO_ROOT, ".tmp", `services-${process.pid}`);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("loads TypeScript services without a build step and skips broken ones", async () => {
    const write = (folder: string, source: string) => {
      mkdirSync(join(dir, folder), { recursive: true });
      writeFileSync(join(dir, folder, "main.ts"), source);
    };
    write(
      "greeter",
      `import { BaseService, serviceMethod } from "p2p-core";
export class Run extends BaseService {
  static SERVICE_NAME = "my_service";
  private greeted = 0;
  async initialize() { this.logger.info("up"); }
  async cleanup() {}
  @serviceMethod({ description: "Hello", public: true })
  async hello({ name = "World" }: { name?: string }) {
    this.greeted += 1;
    return { message: \`Hello, \${name}!\`, node: this.nodeId, greeted: this.greeted };
  }
  @serviceMethod({ public: true, params: { type: "object", properties: { n: { type: "integer" } }, required: ["n"] } })
  async double({ n }: { n: number }) { return { n2: n * 2, version: this.info.version }; }
  @serviceMethod({ public: true })
  async via_proxy() { return await this.proxy.system.health_check({}); }
}
`,
    );
    write("bad_init", `import { BaseService, serviceMethod } from "p2p-core";
export default class extends BaseService {
  async initialize() { throw new Error("cannot start"); }
  @serviceMethod({ public: true }) async x() { return 1; }
}
`);
    write("syntax_error", `export class { this is not typescript`);
    write("no_class", `export const x = 1;`);
    const node = await startNode({ args: ["--services-dir", dir] });
    const token = await testToken("client");
    const hello = await request(`${node.url}/rpc/my_service/hello`, { token, body: { params: { name: "Grace" } } });
    expect(hello.body).toMatchObject({ result: { message: "Hello, Grace!", node: node.nodeId, greeted: 1 } });
    expect((await request(`${node.url}/rpc/my_service/double`, { token, body: { params: { n: 21 } } })).body).toMatchObject({ result: { n2: 42 } });
    expect((await request(`${node.url}/rpc/my_service/double`, { token, body: { params: { n: 1.5 } } })).body).toMatchObject({ error: { code: "INVALID_PARAMS" } });
    expect((await request(`${node.url}/rpc/my_service/via_proxy`, { token, body: {} })).body).toMatchObject({ result: { status: "ok" } });
    const services = await request<{ services: { name: string; status: string }[] }>(`${node.url}/local/services`, { token });
    // Broken services are skipped: listed as failed (with their error), never run.
    const running = services.body.services.filter((s) => s.status !== "failed").map((s) => s.name).sort();
    expect(running).toEqual(["my_service", "system"]);
    const failed = services.body.services.filter((s) => s.status === "failed").map((s) => s.name);
    expect(failed).toContain("bad_init");
    expect((await request<{ status: string }>(`${node.url}/health`)).body.status).toBe("degraded");
    expect(node.output()).toMatch(/service failed to load; skipped/);
    expect(node.output()).toMatch(/cannot start/);
    await node.stop();
  });
});

describe("graceful shutdown", () => {
  it("SIGTERM: drains, finishes the call in flight, refuses new ones, cleans up and exits 0", async () => {
    const node = await startNode();
    const token = await testToken("admin");
    const inflight = request(`${node.url}/rpc/example_service/sleep`, { token, body: { params: { ms: 1500 } } });
    await new Promise((r) => setTimeout(r, 200));
    node.signal("SIGTERM");
    await waitFor(async () => (await request(`${node.url}/health`)).status === 503, 2000);
    const health = await request(`${node.url}/health`);
    expect(health.body).toMatchObject({ status: "draining", node_id: node.nodeId });
    const refused = await request(`${node.url}/rpc/example_service/hello`, { token, body: {} });
    expect(refused.status).toBe(503);
    expect(refused.body).toMatchObject({ error: { code: "UNAVAILABLE" } });
    const finished = await inflight;
    expect(finished.status).toBe(200);
    expect(finished.body).toMatchObject({ result: { slept_ms: 1500 } });
    expect(await node.exited).toBe(0);
    expect(node.output()).toMatch(/node stopped/);
  });

  it("writes JSON logs to --log-file", async () => {
    const logFile = join(REPO_ROOT, ".tmp", `log-${process.pid}`, "node.log");
    const node = await startNode({ args: ["--log-file", logFile, "--verbose"] });
    await node.stop();
    expect(existsSync(logFile)).toBe(true);
    const lines = readFileSync(logFile, "utf8").trim().split("\n").map((l) => JSON.parse(l) as { msg: string; node: string });
    expect(lines.some((l) => l.msg === "node started" && l.node === node.nodeId)).toBe(true);
    expect(readFileSync(logFile, "utf8")).not.toContain(TEST_SECRETS.P2P_JWT_SECRET);
    rmSync(join(REPO_ROOT, ".tmp", `log-${process.pid}`), { recursive: true, force: true });
  });
});
