/**
 * Local proxy calls with metrics on: P2P Core's `this.proxy` inside one node process vs
 * Moleculer 0.15's `broker.call` in one broker with metrics on, both pinned to core 0, 100 in
 * flight, alternating rounds in the same run. Also reports CPU µs per call of each measured window
 * (P2P from /proc, Moleculer from process.cpuUsage): on a shared machine the calls/s of one round
 * follow whoever else holds the core, CPU per call much less. BENCH_SECONDS (default 5), BENCH_ROUNDS (default 3),
 * BENCH_CPU_PROF=dir writes a --cpu-prof of each P2P node there; BENCH_P2P_BEFORE=dir also runs the
 * node of another built checkout (e.g. a worktree of an earlier commit) in each round, for a
 * before/after in the same run. Run: npx tsx bench/local-proxy.ts
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import { TokenService } from "../src/auth/tokens.js";
import { BENCH_SECRETS, spawnProcess, stop, waitHttp } from "./lib.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const PROF = process.env.BENCH_CPU_PROF;
const BEFORE = process.env.BENCH_P2P_BEFORE;
const CONCURRENCY = 100;
const tsx = join(root, "node_modules/tsx/dist/cli.mjs");
const token = await new TokenService(BENCH_SECRETS.P2P_JWT_SECRET).issue("bench", "admin", 3600);

export interface DriveResult {
  rps: number;
  p50_ms: number;
  p99_ms: number;
  calls: number;
  /** CPU time of the process per call over the measured window (µs). */
  cpu_us: number;
}

/** utime + stime of a process, in clock ticks (100 per second on Linux). */
function cpuTicks(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return Number(fields[11]) + Number(fields[12]);
}

async function rpc<T>(port: number, path: string, params: object): Promise<T> {
  const res = await fetch(`http://127.0.0.1:${port}/rpc/${path}`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify({ params }) });
  const body = (await res.json()) as { result?: T; error?: unknown };
  if (!body.result) throw new Error(`${path}: ${JSON.stringify(body.error)}`);
  return body.result;
}

/** One node with bench_driver and bench_echo on core 0; the driver loops over this.proxy.bench_echo.echo. */
export async function p2pLocal(port: number, seconds: number, checkout = root): Promise<DriveResult> {
  const nodeFlags = PROF ? ["--cpu-prof", `--cpu-prof-dir=${PROF}`] : [];
  const child = spawnProcess("taskset", ["-c", "0", process.execPath, ...nodeFlags, join(checkout, "bin/p2p.js"), "coordinator", "--port", String(port), "--node-id", `bench-local-${port}`, "--log-file", `/tmp/p2p-bench-local-${port}.log`, "--services-dir", join(root, "bench/services/local")], BENCH_SECRETS);
  try {
    await waitHttp(`http://127.0.0.1:${port}/health`);
    await rpc(port, "bench_driver/run", { target: "bench_echo", method: "echo", seconds: 1, concurrency: CONCURRENCY });
    const before = cpuTicks(child.pid!);
    const out = await rpc<Omit<DriveResult, "cpu_us">>(port, "bench_driver/run", { target: "bench_echo", method: "echo", seconds, concurrency: CONCURRENCY });
    const ticks = cpuTicks(child.pid!) - before;
    return { ...out, cpu_us: Math.round(((ticks * 10_000) / out.calls) * 100) / 100 };
  } finally {
    await stop(child);
  }
}

export function moleculerLocal(seconds: number): Promise<DriveResult> {
  return new Promise((resolve, reject) => {
    const child = spawn("taskset", ["-c", "0", process.execPath, tsx, join(root, "bench/moleculer-node.ts"), "local", String(seconds), String(CONCURRENCY)], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.once("exit", (code) => (code === 0 ? resolve(JSON.parse(out.trim().split("\n").pop()!) as DriveResult) : reject(new Error(`moleculer local exited ${code}`))));
  });
}

const isMain = process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1];
if (isMain) {
  const rows: string[] = [];
  const ratios: number[] = [];
  const cpuRatios: number[] = [];
  const befores: string[] = [];
  let bestP2p: DriveResult | undefined;
  let bestMol: DriveResult | undefined;
  for (let round = 0; round < ROUNDS; round++) {
    const load = loadavg()[0]!.toFixed(2);
    // Alternate which goes first, so neither always gets the quieter half of the round.
    let p: DriveResult;
    let m: DriveResult;
    if (round % 2 === 0) {
      p = await p2pLocal(19331 + round, SECONDS);
      m = await moleculerLocal(SECONDS);
    } else {
      m = await moleculerLocal(SECONDS);
      p = await p2pLocal(19331 + round, SECONDS);
    }
    const b = BEFORE ? await p2pLocal(19341 + round, SECONDS, BEFORE) : undefined;
    if (b) befores.push(`| ${round + 1} | ${b.rps} (${b.cpu_us} µs CPU/call) | ${p.rps} (${p.cpu_us} µs CPU/call) | ${(p.rps / b.rps).toFixed(2)} | ${(b.cpu_us / p.cpu_us).toFixed(2)} |`);
    ratios.push(p.rps / m.rps);
    cpuRatios.push(m.cpu_us / p.cpu_us);
    if (!bestP2p || p.rps > bestP2p.rps) bestP2p = p;
    if (!bestMol || m.rps > bestMol.rps) bestMol = m;
    rows.push(`| ${round + 1} | ${load} | ${p.rps} (p50 ${p.p50_ms.toFixed(3)} ms, ${p.cpu_us} µs CPU/call) | ${m.rps} (p50 ${m.p50_ms.toFixed(3)} ms, ${m.cpu_us} µs CPU/call) | ${(p.rps / m.rps).toFixed(2)} | ${(m.cpu_us / p.cpu_us).toFixed(2)} |`);
  }
  console.log(`\n## Local proxy calls, metrics on, ${CONCURRENCY} in flight, core 0 (${SECONDS} s per run, ${ROUNDS} alternating rounds, node ${process.version})\n`);
  console.log("| round | load avg (1 min) | P2P this.proxy calls/s | Moleculer broker.call calls/s (metrics on) | ratio calls/s | ratio CPU per call (Moleculer / P2P) |");
  console.log("|---|---|---|---|---|---|");
  console.log(rows.join("\n"));
  if (befores.length > 0) {
    console.log(`\nSame rounds, P2P node of ${BEFORE} (before) vs this checkout (after):\n`);
    console.log("| round | before calls/s | after calls/s | calls/s after / before | CPU per call before / after |\n|---|---|---|---|---|");
    console.log(befores.join("\n"));
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  console.log(`\nratio P2P / Moleculer calls/s: median of rounds ${median(ratios).toFixed(2)}, best of each ${(bestP2p!.rps / bestMol!.rps).toFixed(2)} (target >= 2.0); CPU per call Moleculer / P2P: median ${median(cpuRatios).toFixed(2)}`);
}
