/**
 * 50 real node processes on 127.0.0.1 (1 coordinator + 49 workers, built-in services only):
 * time until every node sees all 50 alive, RSS per node, and time until every node sees a
 * kill -9 as dead. Every process is stopped by PID at the end. Run: npx tsx bench/cluster-real.ts [N]
 */
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import type { ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { loadavg } from "node:os";
import { TokenService } from "../src/auth/tokens.js";
import { BENCH_SECRETS, rssMiB, spawnProcess, stop, waitHttp } from "./lib.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const N = Number(process.argv[2] ?? 50);
const BASE_PORT = 19600;
const secrets = BENCH_SECRETS;
const token = await new TokenService(secrets.P2P_JWT_SECRET).issue("bench", "client", 3600);
const children: ChildProcess[] = [];

/** PSS in MiB: the node binary's pages, shared by the N processes, counted 1/N in each. */
function pssMiB(pid: number): number {
  const kb = Number(/^Pss:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, "utf8"))?.[1] ?? 0);
  return Math.round((kb / 1024) * 10) / 10;
}
const spread = (values: number[]) => {
  const v = [...values].sort((a, b) => a - b);
  return `${v[0]} / ${v[Math.floor(v.length / 2)]} / ${v[v.length - 1]}`;
};

function start(i: number): ChildProcess {
  const role = i === 0 ? "coordinator" : "worker";
  const child = spawnProcess(process.execPath, [join(root, "bin/p2p.js"), role, "--port", String(BASE_PORT + i), "--node-id", `n${i}`, "--coord", `127.0.0.1:${BASE_PORT}`, "--log-file", `/tmp/p2p-bench-cluster/n${i}.log`, "--services-dir", join(root, "test/fixtures/empty-services")], secrets);
  children.push(child);
  return child;
}

async function states(i: number): Promise<Map<string, string>> {
  const res = await fetch(`http://127.0.0.1:${BASE_PORT + i}/cluster/nodes`, { headers: { authorization: `Bearer ${token}` } });
  const body = (await res.json()) as { nodes: { node_id: string; state: string }[] };
  return new Map(body.nodes.map((n) => [n.node_id, n.state]));
}

async function until(check: () => Promise<boolean>, timeoutMs: number, progress: () => Promise<string>): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < timeoutMs) {
    if (await check().catch(() => false)) return Date.now() - started;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`not within ${timeoutMs} ms: ${await progress()}`);
}

/** How many members each node sees alive (for the error message). */
async function aliveCounts(): Promise<string> {
  const counts: number[] = [];
  for (let i = 0; i < N; i++) {
    const s = await states(i).catch(() => new Map<string, string>());
    counts.push([...s.values()].filter((v) => v === "alive").length);
  }
  return `alive counts per node: ${counts.join(" ")}`;
}

const alive = (i: number) => children[i]!.exitCode === null;
try {
  const startedAt = Date.now();
  start(0);
  await waitHttp(`http://127.0.0.1:${BASE_PORT}/health`);
  for (let i = 1; i < N; i += 5) {
    const batch = Array.from({ length: Math.min(5, N - i) }, (_, k) => i + k);
    batch.forEach(start);
    // 180 s: on the shared 2-core machine a node once took 60 s to start at load average 33.
    await Promise.all(batch.map((j) => waitHttp(`http://127.0.0.1:${BASE_PORT + j}/health`, 180_000)));
  }
  const allStarted = Date.now();
  const convergeMs = await until(async () => {
    for (let i = 0; i < N; i++) {
      const s = await states(i);
      let count = 0;
      for (const v of s.values()) if (v === "alive") count++;
      if (count !== N) return false;
    }
    return true;
  }, 180_000, aliveCounts);
  await new Promise((r) => setTimeout(r, 3000));
  const rss = children.map((c) => rssMiB(c.pid!)).sort((a, b) => a - b);
  const pss = children.map((c) => pssMiB(c.pid!));
  const loadConverged = loadavg()[0]!;
  // Once the cluster is quiet: a node gives its heap slack back after ~10–20 s without load.
  await new Promise((r) => setTimeout(r, 30_000));
  const rssQuiet = children.map((c) => rssMiB(c.pid!)).sort((a, b) => a - b);
  const pssQuiet = children.map((c) => pssMiB(c.pid!));
  const loadQuiet = loadavg()[0]!;
  const victim = N - 1;
  children[victim]!.kill("SIGKILL");
  const killedAt = Date.now();
  const deadMs = await until(async () => {
    for (let i = 0; i < N - 1; i++) if (alive(i) && (await states(i)).get(`n${victim}`) !== "dead") return false;
    return true;
  }, 60_000, aliveCounts);
  void killedAt;
  console.log(`\n## ${N} real node processes on one 2-core machine (node ${process.version})\n`);
  console.log("| measure | value |\n|---|---|");
  console.log(`| start of all ${N} processes (batches of 5, each waits for /health) | ${((allStarted - startedAt) / 1000).toFixed(1)} s |`);
  console.log(`| then until every node sees all ${N} alive | ${(convergeMs / 1000).toFixed(2)} s |`);
  console.log(`| RSS per node: min / median / max (load average ${loadConverged.toFixed(1)}) | ${spread(rss)} MiB |`);
  console.log(`| PSS per node (binary's pages shared by all): min / median / max | ${spread(pss)} MiB |`);
  console.log(`| RSS per node 30 s later (cluster quiet; load average ${loadQuiet.toFixed(1)}) | ${spread(rssQuiet)} MiB |`);
  console.log(`| PSS per node 30 s later | ${spread(pssQuiet)} MiB |`);
  console.log(`| kill -9 of one node → every other node sees it dead | ${(deadMs / 1000).toFixed(2)} s (includes polling ${N - 1} nodes) |`);
} finally {
  await Promise.all(children.map((c) => stop(c)));
}
