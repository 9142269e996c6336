import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, REPO_ROOT, runCli, startNode, stopAll, TEST_SECRETS, waitFor, type RunningNode } from "../helpers/launcher.js";
import { request, testToken } from "../helpers/http.js";

// Each command is a fresh Node process: a few seconds apiece on a busy machine.
vi.setConfig({ testTimeout: 120_000 });

let coord: RunningNode;
let worker: RunningNode;
/** Only the cluster's URL and JWT secret: the CLI mints its own admin token. */
let env: Record<string, string | undefined>;
const noCredentials = { P2P_TOKEN: undefined, P2P_JWT_SECRET: undefined, P2P_API_KEY: undefined };

beforeAll(async () => {
  coord = await startNode({ nodeId: "cli-coord" });
  worker = await startNode({ role: "worker", nodeId: "cli-w1", args: ["--coord", `127.0.0.1:${coord.port}`] });
  env = { ...noCredentials, P2P_URL: coord.url, P2P_JWT_SECRET: TEST_SECRETS.P2P_JWT_SECRET };
  await waitFor(async () => (await runCli(["status", "--json"], env)).stdout.includes('"alive": 2'), 20_000, () => "two alive members");
});
afterAll(stopAll);

describe("p2p nodes / status / services", () => {
  it("print readable tables, and JSON with --json", async () => {
    const nodes = await runCli(["nodes"], env);
    expect(nodes.code).toBe(0);
    expect(nodes.stdout).toMatch(/^NODE\s+ROLE\s+STATE\s+ADDRESS/);
    expect(nodes.stdout).toMatch(/cli-coord \*\s+coordinator\s+alive/);
    expect(nodes.stdout).toMatch(/cli-w1\s+worker\s+alive/);
    const nodesJson = JSON.parse((await runCli(["nodes", "--json"], env)).stdout) as { nodes: { node_id: string }[]; leader: string };
    expect(nodesJson.nodes.map((n) => n.node_id).sort()).toEqual(["cli-coord", "cli-w1"]);
    expect(nodesJson.leader).toBe("cli-coord");

    const status = await runCli(["status"], env);
    expect(status.code).toBe(0);
    expect(status.stdout).toContain("leader:       cli-coord");
    expect(status.stdout).toContain("2 alive, 0 suspect");
    expect(status.stdout).toMatch(/example_service\s+2\s+1\.0\.0\s+cli-coord,cli-w1/);
    expect(JSON.parse((await runCli(["status", "--json"], env)).stdout)).toMatchObject({ node_id: "cli-coord", leader: "cli-coord" });

    const services = await runCli(["services"], env);
    expect(services.code).toBe(0);
    expect(services.stdout).toMatch(/example_service\s+hello\s+public\s+yes\s+-\s+cli-coord@1\.0\.0,cli-w1@1\.0\.0\s+Say hello/);
    expect(services.stdout).toMatch(/example_service\s+secret\s+admin/);
    const servicesJson = JSON.parse((await runCli(["services", "--json", "--url", worker.url], env)).stdout) as { services: { name: string }[] };
    expect(servicesJson.services.map((s) => s.name)).toContain("system");
  });

  it("take the token from P2P_TOKEN or get one with P2P_API_KEY, and fail clearly without credentials", async () => {
    const viaToken = await runCli(["nodes", "--json"], { ...noCredentials, P2P_URL: coord.url, P2P_TOKEN: await testToken("client") });
    expect(viaToken.code).toBe(0);
    const viaKey = await runCli(["status"], { ...noCredentials, P2P_URL: coord.url, P2P_API_KEY: TEST_SECRETS.P2P_API_KEY });
    expect(viaKey.code).toBe(0);
    const wrongKey = await runCli(["status"], { ...noCredentials, P2P_URL: coord.url, P2P_API_KEY: "wrong" });
    expect(wrongKey.code).toBe(1);
    expect(wrongKey.stderr).toMatch(/^p2p: UNAUTHORIZED: /);
    const none = await runCli(["nodes"], { ...noCredentials, P2P_URL: coord.url });
    expect(none.code).toBe(1);
    expect(none.stderr.trim()).toBe("p2p: UNAUTHORIZED: no credentials: set P2P_TOKEN, P2P_JWT_SECRET or P2P_API_KEY");
  });

  it("an unreachable node or a bad --url is one line on stderr and exit 1", async () => {
    const port = await freePort();
    const down = await runCli(["nodes", "--url", `http://127.0.0.1:${port}`], env);
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/^p2p: UNAVAILABLE: cannot reach http:\/\/127\.0\.0\.1:\d+/);
    expect(down.stderr.trim().split("\n")).toHaveLength(1);
    const bad = await runCli(["nodes", "--url", "not a url"], env);
    expect(bad.code).toBe(1);
    expect(bad.stderr.trim()).toBe('p2p: BAD_REQUEST: --url: "not a url" is not a URL (e.g. http://127.0.0.1:8001)');
    const unknownFlag = await runCli(["nodes", "--bogus"], env);
    expect(unknownFlag.code).toBe(1);
    expect(unknownFlag.stderr).toContain("--bogus");
  });
});

describe("p2p call", () => {
  it("prints the result; --json adds the node that ran it; --node picks the node", async () => {
    const hello = await runCli(["call", "example_service.hello", '{"name":"cli"}'], env);
    expect(hello.code).toBe(0);
    expect(JSON.parse(hello.stdout)).toEqual({ message: "Hello, cli!", node: "cli-coord" });
    const onWorker = await runCli(["call", "example_service.hello", "--node", "cli-w1", "--json"], env);
    expect(onWorker.code).toBe(0);
    expect(JSON.parse(onWorker.stdout)).toMatchObject({ result: { message: "Hello, World!", node: "cli-w1" }, node: "cli-w1", ms: expect.any(Number) });
  });

  it("exits 1 with the error's code and message on stderr", async () => {
    const cases: [string[], RegExp][] = [
      [["call", "example_service.fail", '{"message":"kaput"}'], /^p2p: INTERNAL: kaput$/],
      [["call", "example_service.add", '{"a":"x"}'], /^p2p: INVALID_PARAMS: /],
      [["call", "nope.hello"], /^p2p: SERVICE_NOT_FOUND: /],
      [["call", "example_service.hello", "--node", "nowhere"], /^p2p: NODE_NOT_FOUND: /],
      [["call", "example_service.sleep", '{"ms":3000}', "--timeout", "300"], /^p2p: TIMEOUT: /],
    ];
    for (const [args, expected] of cases) {
      const res = await runCli(args, env);
      expect(res.code, args.join(" ")).toBe(1);
      expect(res.stderr.trim(), args.join(" ")).toMatch(expected);
      expect(res.stdout).toBe("");
    }
    const client = await runCli(["call", "example_service.secret"], { ...noCredentials, P2P_URL: coord.url, P2P_TOKEN: await testToken("client") });
    expect(client.code).toBe(1);
    expect(client.stderr).toMatch(/^p2p: FORBIDDEN: /);
  });

  it("a bad argument is one clear line and exit 1", async () => {
    const cases: [string[], string][] = [
      [["call", "hello"], 'p2p: BAD_REQUEST: "hello" is not <service>.<method> (e.g. example_service.hello)'],
      [["call", "example_service.hello", "{oops"], "p2p: BAD_REQUEST: params: not valid JSON: {oops"],
      [["call", "example_service.hello", "[1,2]"], `p2p: BAD_REQUEST: params: must be a JSON object, e.g. '{"name":"you"}'`],
      [["call", "example_service.hello", "--timeout", "soon"], 'p2p: BAD_REQUEST: --timeout: "soon" must be a positive number of milliseconds'],
    ];
    for (const [args, line] of cases) {
      const res = await runCli(args, env);
      expect(res.code, args.join(" ")).toBe(1);
      expect(res.stderr.trim()).toBe(line);
    }
    const missing = await runCli(["call"], env);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("missing required argument");
  });
});

/**
 * Starts `p2p demo ARGS` with no credentials in its environment (it makes its own secrets);
 * `output()` is everything it printed so far.
 */
function startDemo(args: string[]): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  const env: Record<string, string | undefined> = { ...process.env, ...noCredentials, P2P_CLUSTER_KEY: undefined, P2P_CLIENT_KEY: undefined };
  for (const k of Object.keys(env)) if (env[k] === undefined) delete env[k];
  const child = spawn(process.execPath, [join(REPO_ROOT, "bin/p2p.js"), "demo", ...args], { cwd: REPO_ROOT, env: env as NodeJS.ProcessEnv, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((res) => child.once("exit", (code) => res(code)));
  return { child, output: () => out, exited };
}

describe("p2p demo", () => {
  it("starts a coordinator and workers with shared secrets, prints the dashboard URL and an admin token, and stops every node on Ctrl-C with exit 0", async () => {
    const firstPort = await freePort();
    const logDir = mkdtempSync(join(tmpdir(), "p2p-demo-"));
    const demo = startDemo(["--nodes", "3", "--port", String(firstPort), "--log-dir", logDir]);
    const exited = demo.exited;
    try {
      await waitFor(() => demo.output().includes("Ctrl-C stops every node."), 90_000, () => `demo did not print its banner:\n${demo.output()}`, exited);
      const url = /Dashboard:\s+(http:\/\/127\.0\.0\.1:(\d+))\/ui\//.exec(demo.output());
      expect(url).not.toBeNull();
      const token = /Admin token[^\n]*\n(\S+)/.exec(demo.output())![1]!;
      const pids = [...demo.output().matchAll(/\(pid (\d+), log ([^)]+)\)/g)].map((m) => Number(m[1]));
      expect(pids).toHaveLength(3);
      expect(new Set([...demo.output().matchAll(/log ([^)]+)\)/g)].map((m) => m[1])).size).toBe(3);
      await waitFor(async () => (await request<{ members: { alive: number } }>(`${url![1]}/cluster/status`, { token })).body.members?.alive === 3, 30_000, () => "three alive members");
      const nodes = await request<{ nodes: { role: string }[] }>(`${url![1]}/cluster/nodes`, { token });
      expect(nodes.body.nodes.map((n) => n.role).sort()).toEqual(["coordinator", "worker", "worker"]);
      const call = await request(`${url![1]}/rpc/example_service/hello?node=demo-worker-2`, { token, body: { params: {} } });
      expect(call.status).toBe(200);
      demo.child.kill("SIGINT");
      expect(await exited).toBe(0);
      for (const pid of pids) expect(() => process.kill(pid, 0), `node pid ${pid} still running`).toThrow();
    } finally {
      if (demo.child.exitCode === null) demo.child.kill("SIGKILL");
    }
  }, 150_000);

  it("with --tls runs the cluster on certificates of its own CA, and client commands reach it with P2P_CA", async () => {
    const firstPort = await freePort();
    const logDir = mkdtempSync(join(tmpdir(), "p2p-demo-tls-"));
    const demo = startDemo(["--tls", "--nodes", "2", "--port", String(firstPort), "--log-dir", logDir]);
    const exited = demo.exited;
    try {
      await waitFor(() => demo.output().includes("Ctrl-C stops every node."), 90_000, () => `demo did not print its banner:\n${demo.output()}`, exited);
      const url = /Dashboard:\s+(https:\/\/127\.0\.0\.1:\d+)\/ui\//.exec(demo.output())![1]!;
      const ca = /P2P_CA=(\S+)/.exec(demo.output())![1]!;
      const token = /Admin token[^\n]*\n(\S+)/.exec(demo.output())![1]!;
      await waitFor(async () => (await runCli(["status", "--json"], { ...noCredentials, P2P_URL: url, P2P_CA: ca, P2P_TOKEN: token })).stdout.includes('"alive": 2'), 30_000, () => "two alive members over HTTPS");
      demo.child.kill("SIGINT");
      expect(await exited).toBe(0);
    } finally {
      if (demo.child.exitCode === null) demo.child.kill("SIGKILL");
    }
  }, 150_000);

  it("refuses a bad --nodes with one line and exit 1", async () => {
    const res = await runCli(["demo", "--nodes", "zero"], {});
    expect(res.code).toBe(1);
    expect(res.stderr.trim()).toBe('p2p: --nodes: "zero" must be a whole number from 1 to 20');
  });
});
