/**
 * Memory of a node, started through the real CLI (`node bin/p2p.js ...`): an idle worker (no
 * services) and a coordinator with the bundled services. RSS and PSS after start, the peak and
 * the figure at the end of a bounded mixed load, and again after a quiet minute: a node must come
 * back to about where it started (no growth).
 *
 * The load, for --load-seconds (default 30): /rpc calls with a params schema into each node (the
 * worker forwards them to the coordinator over the peer link), cached calls, a nested proxy call,
 * the cluster views, /metrics, /openapi.json, the Swagger UI and the dashboard's files, and a few
 * refused requests (bad token, unknown method, invalid params).
 *
 * Run: npx tsx bench/memory.ts [--load-seconds N] [--idle-seconds N] [--port N]   (npm run bench -- memory)
 * (--port: the coordinator's, the worker's is the next one; to run two versions side by side).
 * For scale, the same run also measures a bare `node` and a bare Fastify server (one route, one
 * request answered) under each Node: the floor a node's RSS cannot go below on this machine.
 * Nodes run under this process's Node; with BENCH_NODE set, also under the `node` on PATH, so one
 * run reports both versions. Every process is stopped by PID; every loop is bounded.
 */
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import { mkdtempSync, readFileSync, realpathSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import autocannon from "autocannon";
import { TokenService } from "../src/auth/tokens.js";
import { BENCH_SECRETS, spawnProcess, stop, waitHttp } from "./lib.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const argValue = (name: string, fallback: number) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const LOAD_S = argValue("--load-seconds", 30);
const IDLE_S = argValue("--idle-seconds", 60);
/** After both answer /health: long enough for a quiet node's first trim (it looks every 10 s). */
const SETTLE_MS = 20_000;
const COORD_PORT = argValue("--port", 19631);
const WORKER_PORT = COORD_PORT + 1;
const secrets = BENCH_SECRETS;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Mem {
  rss: number;
  pss: number;
}

/** RSS and PSS in MiB from /proc (PSS: shared pages divided among the processes mapping them). */
function mem(pid: number): Mem {
  const text = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
  const field = (name: string) => Math.round((Number(new RegExp(`^${name}:\\s+(\\d+)`, "m").exec(text)?.[1] ?? 0) / 1024) * 10) / 10;
  return { rss: field("Rss"), pss: field("Pss") };
}

/** Where the RSS is (MiB): the node binary's pages, glibc's main heap, and the rest of the anonymous memory (V8's heap, thread arenas, stacks). */
interface Where {
  binary: number;
  mallocHeap: number;
  otherAnonymous: number;
}

function where(pid: number, nodeBin: string): Where {
  const binary = realpathSync(nodeBin);
  const sums = { binary: 0, mallocHeap: 0, anonymous: 0 };
  let mapping = "";
  for (const line of readFileSync(`/proc/${pid}/smaps`, "utf8").split("\n")) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) mapping = head[1] ?? "";
    else if (line.startsWith("Rss:") && mapping === binary) sums.binary += Number(line.split(/\s+/)[1]);
    else if (line.startsWith("Rss:") && mapping === "[heap]") sums.mallocHeap += Number(line.split(/\s+/)[1]);
    else if (line.startsWith("Anonymous:") && mapping !== "[heap]") sums.anonymous += Number(line.split(/\s+/)[1]);
  }
  const mib = (kb: number) => Math.round((kb / 1024) * 10) / 10;
  return { binary: mib(sums.binary), mallocHeap: mib(sums.mallocHeap), otherAnonymous: mib(sums.anonymous) };
}

/** The idle heap trims a node logged after `since` (ms since the epoch): what each collection gave back. */
function trimsSince(logFile: string, since: number): string[] {
  const lines: string[] = [];
  for (const line of readFileSync(logFile, "utf8").split("\n")) {
    if (!line.includes('"heap trimmed"')) continue;
    const entry = JSON.parse(line) as Record<string, number | string | boolean>;
    const at = Date.parse(String(entry.time));
    if (at < since) continue;
    lines.push(`+${Math.round((at - since) / 1000)} s ${entry.full ? "full" : "young"} (CPU ${entry.cpu_percent} %): young ${entry.young_mib} → ${entry.after_young_mib}, old used ${entry.old_used_mib} → ${entry.after_old_used_mib}, committed ${entry.old_committed_mib} → ${entry.after_old_committed_mib} MiB`);
  }
  return lines;
}

function nodesToMeasure(): string[] {
  const bins = [process.execPath];
  if (process.env.BENCH_NODE) {
    const onPath = spawnSync("sh", ["-c", "command -v node"], { encoding: "utf8" }).stdout.trim();
    for (const bin of [process.env.BENCH_NODE, onPath]) if (bin && !bins.includes(bin)) bins.push(bin);
  }
  return bins;
}

function startNode(nodeBin: string, role: "coordinator" | "worker", port: number, servicesDir: string, dir: string): ChildProcess {
  const args = [join(root, "bin/p2p.js"), role, "--port", String(port), "--node-id", `${role}-${port}`, "--log-file", join(dir, `${role}.log`), "--data-dir", join(dir, role), "--services-dir", servicesDir];
  if (role === "worker") args.push("--coord", `127.0.0.1:${COORD_PORT}`);
  return spawnProcess(nodeBin, args, secrets);
}

/** Until `until`: one pass over the non-/rpc routes every 200 ms (views, docs, dashboard files, refusals). */
async function browseLoop(until: number, admin: string, client: string): Promise<number> {
  const base = [`http://127.0.0.1:${COORD_PORT}`, `http://127.0.0.1:${WORKER_PORT}`];
  const get = (url: string, token?: string) => fetch(url, token ? { headers: { authorization: `Bearer ${token}` } } : {}).then((r) => r.arrayBuffer().then(() => r.status), () => 0);
  const post = (url: string, body: unknown, token: string) =>
    fetch(url, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify(body) }).then((r) => r.arrayBuffer().then(() => r.status), () => 0);
  let requests = 0;
  for (let i = 0; Date.now() < until; i++) {
    const url = base[i % 2]!;
    const batch = [
      get(`${url}/health`),
      get(`${url}/cluster/nodes`, admin),
      get(`${url}/cluster/status`, admin),
      get(`${url}/cluster/services`, admin),
      get(`${url}/cluster/metrics`, admin),
      get(`${url}/metrics`, admin),
      get(`${url}/openapi.json`),
      get(`${url}/docs/`),
      get(`${url}/docs/static/swagger-ui-bundle.js`),
      get(`${url}/ui/`),
      get(`${url}/ui/js/main.js`),
      post(`${url}/rpc/example_service/slow_square`, { params: { n: i % 20 } }, client),
      post(`${url}/rpc/example_service/relay`, { params: {} }, client),
      post(`${url}/rpc/example_service/add`, { params: { a: "x" } }, client), // 400 invalid params
      post(`${url}/rpc/example_service/nope`, { params: {} }, client), // 404
      post(`${url}/rpc/example_service/add`, { params: { a: 1, b: 2 } }, "not-a-token"), // 401
    ];
    await Promise.all(batch);
    requests += batch.length;
    await sleep(200);
  }
  return requests;
}

async function rpcLoad(port: number, token: string, seconds: number): Promise<number> {
  const result = await autocannon({
    url: `http://127.0.0.1:${port}/rpc/example_service/add`,
    method: "POST",
    body: JSON.stringify({ params: { a: 1, b: 2 }, id: 1 }),
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    connections: 8,
    duration: seconds,
  });
  return result.requests.total;
}

interface Row {
  node: string;
  role: string;
  start: Mem;
  peak: Mem;
  end: Mem;
  idle: Mem;
  /** Null for the floors. */
  where: { start: Where; idle: Where; trims: string[] } | null;
}

/** RSS / PSS of a bare `node` and of a bare Fastify server, each 5 s after start (and one request). */
async function floors(nodeBin: string, version: string): Promise<Row[]> {
  const bare = "setInterval(() => {}, 1000)";
  const fastify = `import Fastify from "fastify"; const app = Fastify({ logger: false }); app.post("/bare", async () => ({ ok: true })); await app.listen({ host: "127.0.0.1", port: ${WORKER_PORT} });`;
  const rows: Row[] = [];
  for (const [role, script] of [["bare node", bare], ["bare Fastify server, one route", fastify]] as const) {
    const child = spawn(nodeBin, ["--input-type=module", "-e", script], { cwd: root, stdio: "ignore" });
    try {
      if (script === fastify) {
        await waitHttp(`http://127.0.0.1:${WORKER_PORT}/bare`, 30_000);
        await fetch(`http://127.0.0.1:${WORKER_PORT}/bare`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" }).then((r) => r.arrayBuffer());
      }
      await sleep(5_000);
      const m = mem(child.pid!);
      rows.push({ node: version, role, start: m, peak: m, end: m, idle: m, where: null });
    } finally {
      await stop(child);
    }
  }
  return rows;
}

async function measure(nodeBin: string): Promise<Row[]> {
  const version = spawnSync(nodeBin, ["--version"], { encoding: "utf8" }).stdout.trim();
  const dir = mkdtempSync(join(tmpdir(), "p2p-bench-memory-"));
  const emptyServices = mkdtempSync(join(tmpdir(), "p2p-bench-memory-empty-"));
  const tokens = new TokenService(secrets.P2P_JWT_SECRET);
  const admin = await tokens.issue("bench", "admin", 3600);
  const client = await tokens.issue("bench", "client", 3600);
  const coordinator = startNode(nodeBin, "coordinator", COORD_PORT, join(root, "services"), dir);
  let worker: ChildProcess | null = null;
  try {
    await waitHttp(`http://127.0.0.1:${COORD_PORT}/health`, 180_000); // a shared 2-core machine at load 60 took over 60 s
    worker = startNode(nodeBin, "worker", WORKER_PORT, emptyServices, dir);
    await waitHttp(`http://127.0.0.1:${WORKER_PORT}/health`, 180_000);
    await sleep(SETTLE_MS);
    const procs = [
      { role: "coordinator (bundled services)", pid: coordinator.pid!, log: join(dir, "coordinator.log") },
      { role: "worker (idle, no services)", pid: worker.pid!, log: join(dir, "worker.log") },
    ];
    const start = procs.map((p) => mem(p.pid));
    const startWhere = procs.map((p) => where(p.pid, nodeBin));
    const peak = start.map((m) => ({ ...m }));
    const until = Date.now() + LOAD_S * 1000;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        procs.forEach((p, i) => {
          const m = mem(p.pid);
          if (m.rss > peak[i]!.rss) peak[i] = m;
        });
        await sleep(500);
      }
    })();
    const [browsed, coordCalls, workerCalls] = await Promise.all([browseLoop(until, admin, client), rpcLoad(COORD_PORT, client, LOAD_S), rpcLoad(WORKER_PORT, client, LOAD_S)]);
    sampling = false;
    await sampler;
    const end = procs.map((p) => mem(p.pid));
    const loadEnded = Date.now();
    console.log(`node ${version}: ${LOAD_S} s of load: ${coordCalls} /rpc calls into the coordinator, ${workerCalls} into the worker (forwarded), ${browsed} other requests; then ${IDLE_S} s idle`);
    await sleep(IDLE_S * 1000);
    const idle = procs.map((p) => mem(p.pid));
    const rows = procs.map((p, i) => ({
      node: version,
      role: p.role,
      start: start[i]!,
      peak: peak[i]!,
      end: end[i]!,
      idle: idle[i]!,
      where: { start: startWhere[i]!, idle: where(p.pid, nodeBin), trims: trimsSince(p.log, loadEnded) },
    }));
    if (worker) await stop(worker);
    await stop(coordinator);
    return [...rows, ...(await floors(nodeBin, version))];
  } finally {
    if (worker) await stop(worker);
    await stop(coordinator);
    for (const d of [dir, emptyServices]) rmSync(d, { recursive: true, force: true });
  }
}

const rows: Row[] = [];
for (const bin of nodesToMeasure()) rows.push(...(await measure(bin)));
console.log(`\n## Memory of a node (RSS / PSS MiB; load ${LOAD_S} s, then ${IDLE_S} s idle; load average ${loadavg().map((l) => l.toFixed(1)).join(" ")})\n`);
console.log("| node | process | after start | peak under load | end of load | after idle | target RSS ≤ 60 |");
console.log("|---|---|---|---|---|---|---|");
const fmt = (m: Mem) => `${m.rss} / ${m.pss}`;
for (const r of rows) {
  if (r.role.startsWith("bare")) console.log(`| ${r.node} | ${r.role} (floor, 5 s after start) | ${fmt(r.start)} | | | | |`);
  else console.log(`| ${r.node} | ${r.role} | ${fmt(r.start)} | ${fmt(r.peak)} | ${fmt(r.end)} | ${fmt(r.idle)} | ${r.start.rss <= 60 && r.idle.rss <= 60 ? "met" : "missed"} |`);
}
console.log("\nWhere the RSS is (MiB): node binary's pages / glibc main heap / other anonymous (V8 heap, thread arenas, stacks); and the idle heap trims after the load ended");
for (const r of rows) {
  if (!r.where) continue;
  const w = (x: Where) => `${x.binary} / ${x.mallocHeap} / ${x.otherAnonymous}`;
  console.log(`- ${r.node} ${r.role}: after start ${w(r.where.start)}; after idle ${w(r.where.idle)}; trims: ${r.where.trims.length === 0 ? "none (the node looks every 10 s: not quiet, nothing to give back, or idle too short)" : ""}`);
  for (const t of r.where.trims) console.log(`    ${t}`);
}
