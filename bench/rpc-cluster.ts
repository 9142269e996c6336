/**
 * Distributed RPC benchmarks, each side by side with Moleculer 0.15 in the same run:
 *  1. service-to-service calls across two node processes (caller pinned to core 0, callee to
 *     core 1 with taskset) at 1 and 100 in flight — P2P Core peer link vs Moleculer TCP transporter;
 *  2. client → node A → node B over HTTP (autocannon), next to client → node B directly.
 * Local proxy calls vs Moleculer local calls (metrics on) are bench/local-proxy.ts.
 * Everything on 127.0.0.1; every run is bounded in time. Run: npx tsx bench/rpc-cluster.ts
 * BENCH_PARTS=remote (or http) runs only that part.
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import { TokenService } from "../src/auth/tokens.js";
import { BENCH_SECRETS, load, retryUntil, spawnProcess, stop, waitHttp } from "./lib.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const secrets = BENCH_SECRETS;
const tsx = join(root, "node_modules/tsx/dist/cli.mjs");
/** BENCH_PORT_BASE: the ports used are base + 1 … base + 12 (two engineers' runs on one machine must not meet). */
const PORT = Number(process.env.BENCH_PORT_BASE ?? 19300);
/** BENCH_IN_FLIGHT=1 or =100: P2P runs of one case only (to profile it); the tables need both. */
const IN_FLIGHT = (process.env.BENCH_IN_FLIGHT ?? "1,100").split(",").map(Number);
const token = await new TokenService(secrets.P2P_JWT_SECRET).issue("bench", "admin", 3600);

interface DriveResult {
  rps: number;
  p50_ms: number;
  p99_ms: number;
  calls: number;
  /** CPU time per call (µs) of the caller and callee processes over the measured run: steadier than calls/s on a shared machine. */
  cpu?: { caller: number; callee: number };
}

/** CPU time (ms) a process and its descendants (tsx runs the script in a child) used so far: utime + stime from /proc (10 ms ticks). */
function cpuMs(pid: number | undefined): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  let ms = (Number(fields[11]) + Number(fields[12])) * 10;
  let children = "";
  try {
    children = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim();
  } catch {
    // no children file (kernel without CONFIG_PROC_CHILDREN): the process alone
  }
  for (const child of children ? children.split(" ") : []) ms += cpuMs(Number(child));
  return ms;
}

function p2pNode(core: number, role: string, port: number, id: string, servicesDir: string, extra: string[] = [], env: Record<string, string> = secrets, build = root) {
  // BENCH_NODE_ARGS: extra node options for the P2P nodes (e.g. --cpu-prof, not allowed in NODE_OPTIONS).
  const nodeArgs = process.env.BENCH_NODE_ARGS ? process.env.BENCH_NODE_ARGS.split(" ") : [];
  return spawnProcess("taskset", ["-c", String(core), process.execPath, ...nodeArgs, join(build, "bin/p2p.js"), role, "--port", String(port), "--node-id", id, "--log-file", `/tmp/p2p-bench-${id}.log`, "--services-dir", servicesDir, ...extra], env);
}

/** Caller + callee pinned to a core each; the caller's service drives calls at 1 and 100 in flight. */
async function p2pRemote(env: Record<string, string>, ports: [number, number], build = root): Promise<Record<number, DriveResult>> {
  const [portA, portB] = ports;
  const a = p2pNode(0, "coordinator", portA, `bench-a-${portA}`, join(build, "bench/services/caller"), [], env, build);
  const b = p2pNode(1, "worker", portB, `bench-b-${portB}`, join(build, "bench/services/callee"), ["--coord", `127.0.0.1:${portA}`], env, build);
  const out: Record<number, DriveResult> = {};
  try {
    await waitHttp(`http://127.0.0.1:${portA}/health`);
    await waitHttp(`http://127.0.0.1:${portB}/health`);
    await retryUntil(() => rpc(portA, "bench_echo/echo", {}), 20_000);
    for (const concurrency of IN_FLIGHT) {
      await rpc(portA, "bench_driver/run", { target: "bench_echo", method: "echo", seconds: 1, concurrency });
      const cpu0 = [cpuMs(a.pid), cpuMs(b.pid)];
      const r = await rpc<DriveResult>(portA, "bench_driver/run", { target: "bench_echo", method: "echo", seconds: SECONDS, concurrency });
      const perCall = (ms: number) => (ms * 1000) / Math.max(1, r.calls);
      out[concurrency] = { ...r, cpu: { caller: perCall(cpuMs(a.pid) - cpu0[0]!), callee: perCall(cpuMs(b.pid) - cpu0[1]!) } };
    }
  } finally {
    await stop(a);
    await stop(b);
  }
  return out;
}

async function rpc<T>(port: number, path: string, params: object): Promise<T> {
  const res = await fetch(`http://127.0.0.1:${port}/rpc/${path}`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify({ params }) });
  const body = (await res.json()) as { result?: T; error?: unknown };
  if (!body.result) throw new Error(`${path}: ${JSON.stringify(body.error)}`);
  return body.result;
}

/** Moleculer callee on core 1, caller on core 0, `concurrency` calls in flight. */
async function moleculerRemote(concurrency: number): Promise<DriveResult> {
  const callee = spawnProcess("taskset", ["-c", "1", process.execPath, tsx, join(root, "bench/moleculer-node.ts"), "callee", String(PORT + 11)]);
  // Ready when it says so (a loaded machine may take far more than a second or two to start it).
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("moleculer callee did not start within 60 s")), 60_000);
    callee.stdout!.on("data", (d: Buffer) => {
      if (d.toString().includes("ready")) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  try {
    const calleeCpu0 = cpuMs(callee.pid);
    const r = await runMoleculer(["caller", String(PORT + 12), String(PORT + 11), String(SECONDS), String(concurrency)], 0);
    // The caller measures its own CPU over the measured run; the callee's covers warm-up and run.
    const { cpu_ms, warm_calls, ...result } = r as DriveResult & { cpu_ms: number; warm_calls: number };
    return { ...result, cpu: { caller: (cpu_ms * 1000) / Math.max(1, r.calls), callee: ((cpuMs(callee.pid) - calleeCpu0) * 1000) / Math.max(1, r.calls + warm_calls) } };
  } finally {
    await stop(callee);
  }
}

function runMoleculer(args: string[], core: number): Promise<DriveResult> {
  return new Promise((resolve, reject) => {
    const child = spawn("taskset", ["-c", String(core), process.execPath, tsx, join(root, "bench/moleculer-node.ts"), ...args], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.once("exit", (code) => (code === 0 ? resolve(JSON.parse(out.trim().split("\n").pop()!) as DriveResult) : reject(new Error(`moleculer ${args[0]} exited ${code}`))));
  });
}

const row = (name: string, r: DriveResult) => `| ${name} | ${r.rps} | ${r.p50_ms.toFixed(3)} | ${r.p99_ms.toFixed(3)} |${r.cpu ? ` ${r.cpu.caller.toFixed(1)} / ${r.cpu.callee.toFixed(1)} |` : ""}`;
const lines: string[] = [];

// 1: P2P Core, encrypted link (cluster key) and plaintext link (no key, like Moleculer's TCP),
// and Moleculer, alternating for ROUNDS rounds; the best of each case counts (noisy machine),
// and each round's own ratios are printed too.
const PARTS = new Set((process.env.BENCH_PARTS ?? "remote,http").split(","));
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const { P2P_CLUSTER_KEY: _unused, ...plainSecrets } = secrets;
void _unused;
const best = (a: DriveResult | undefined, b: DriveResult): DriveResult => (a && a.rps >= b.rps ? a : b);
const ratio = (a: number, b: number) => (a / b).toFixed(2);
const loadNow = () => loadavg().map((l) => l.toFixed(2)).join(" ");
/** BENCH_P2P_BEFORE: a built checkout of an earlier commit, run with the encrypted link in each round beside this one. */
const BEFORE = process.env.BENCH_P2P_BEFORE;
/** BENCH_PLAIN=0 leaves out the plaintext-link case. */
const PLAIN = process.env.BENCH_PLAIN !== "0";
if (PARTS.has("remote") && IN_FLIGHT.length !== 2) {
  // One case only (profiling): the encrypted link, no Moleculer (the earlier build first, if given).
  if (BEFORE) {
    const earlier = await p2pRemote(secrets, [PORT + 7, PORT + 8], BEFORE);
    for (const c of IN_FLIGHT) lines.push(row(`P2P Core before (${BEFORE}), encrypted link, ${c} in flight`, earlier[c]!));
  }
  const enc = await p2pRemote(secrets, [PORT + 1, PORT + 2]);
  for (const c of IN_FLIGHT) lines.push(row(`P2P Core, encrypted link, ${c} in flight`, enc[c]!));
  console.log(lines.join("\n"));
  process.exit(0);
}
if (PARTS.has("remote")) {
  const p2p: Record<number, DriveResult> = {};
  const p2pPlain: Record<number, DriveResult> = {};
  const mol: Record<number, DriveResult> = {};
  const p2pBefore: Record<number, DriveResult> = {};
  const perRound: string[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const loadBefore = loadNow();
    const earlier = BEFORE ? await p2pRemote(secrets, [PORT + 7, PORT + 8], BEFORE) : undefined;
    const enc = await p2pRemote(secrets, [PORT + 1, PORT + 2]);
    const plain = PLAIN ? await p2pRemote(plainSecrets, [PORT + 3, PORT + 4]) : enc;
    const m: Record<number, DriveResult> = {};
    for (const c of [1, 100]) {
      p2p[c] = best(p2p[c], enc[c]!);
      p2pPlain[c] = best(p2pPlain[c], plain[c]!);
      if (earlier) p2pBefore[c] = best(p2pBefore[c], earlier[c]!);
      m[c] = await moleculerRemote(c);
      mol[c] = best(mol[c], m[c]);
    }
    perRound.push(
      `round ${round + 1} (load ${loadBefore}): 100 in flight ${enc[100]!.rps} / ${m[100]!.rps} = ${(enc[100]!.rps / m[100]!.rps).toFixed(2)} encrypted, ${(plain[100]!.rps / m[100]!.rps).toFixed(2)} plaintext; ` +
        `CPU per call at 100, Moleculer / P2P encrypted: caller ${ratio(m[100]!.cpu!.caller, enc[100]!.cpu!.caller)}, callee ${ratio(m[100]!.cpu!.callee, enc[100]!.cpu!.callee)}; ` +
        `p50 at 1 ${enc[1]!.p50_ms.toFixed(3)} / ${plain[1]!.p50_ms.toFixed(3)} vs ${m[1]!.p50_ms.toFixed(3)} ms (Moleculer/P2P ${(m[1]!.p50_ms / enc[1]!.p50_ms).toFixed(2)} encrypted)` +
        (earlier
          ? `; before → now, encrypted: 100 in flight ${earlier[100]!.rps} → ${enc[100]!.rps} calls/s, CPU µs per call ${earlier[100]!.cpu!.caller.toFixed(1)} / ${earlier[100]!.cpu!.callee.toFixed(1)} → ${enc[100]!.cpu!.caller.toFixed(1)} / ${enc[100]!.cpu!.callee.toFixed(1)}; ` +
            `1 in flight p50 ${earlier[1]!.p50_ms.toFixed(3)} → ${enc[1]!.p50_ms.toFixed(3)} ms, CPU ${earlier[1]!.cpu!.caller.toFixed(1)} / ${earlier[1]!.cpu!.callee.toFixed(1)} → ${enc[1]!.cpu!.caller.toFixed(1)} / ${enc[1]!.cpu!.callee.toFixed(1)}`
          : ""),
    );
  }
  lines.push(`\n## Service-to-service calls across two processes (caller core 0, callee core 1, ${SECONDS} s each, best of ${ROUNDS} alternating rounds, node ${process.version})\n`);
  lines.push("| system | calls/s | p50 ms | p99 ms | CPU µs per call, caller / callee |", "|---|---|---|---|---|");
  lines.push(
    row("P2P Core, encrypted link, 1 in flight", p2p[1]!),
    row("P2P Core, plaintext link, 1 in flight", p2pPlain[1]!),
    row("Moleculer 0.15 TCP (plaintext), 1 in flight", mol[1]!),
    row("P2P Core, encrypted link, 100 in flight", p2p[100]!),
    row("P2P Core, plaintext link, 100 in flight", p2pPlain[100]!),
    row("Moleculer 0.15 TCP (plaintext), 100 in flight", mol[100]!),
  );
  if (BEFORE) lines.push(row(`P2P Core before (${BEFORE}), encrypted, 1 in flight`, p2pBefore[1]!), row(`P2P Core before (${BEFORE}), encrypted, 100 in flight`, p2pBefore[100]!));
  lines.push(`\nthroughput ratio at 100 in flight: P2P / Moleculer = ${(p2p[100]!.rps / mol[100]!.rps).toFixed(2)} encrypted, ${(p2pPlain[100]!.rps / mol[100]!.rps).toFixed(2)} plaintext (target >= 1.2 encrypted)`);
  lines.push(`p50 at 1 in flight: P2P ${p2p[1]!.p50_ms.toFixed(3)} ms encrypted, ${p2pPlain[1]!.p50_ms.toFixed(3)} ms plaintext vs Moleculer ${mol[1]!.p50_ms.toFixed(3)} ms (target: P2P encrypted <= Moleculer)`);
  lines.push("", ...perRound, `load average after: ${loadNow()}`);
}
if (!PARTS.has("http")) {
  console.log(lines.join("\n"));
  process.exit(0);
}

// 2: client → A → B over HTTP, next to client → B.
const portA = PORT + 5;
const portB = PORT + 6;
const a = p2pNode(0, "coordinator", portA, "bench-http-a", join(root, "bench/services/caller"));
const b = p2pNode(1, "worker", portB, "bench-http-b", join(root, "bench/services/callee"), ["--coord", `127.0.0.1:${portA}`]);
let httpVia: DriveResult | undefined;
let httpDirect: DriveResult | undefined;
try {
  await waitHttp(`http://127.0.0.1:${portA}/health`);
  await waitHttp(`http://127.0.0.1:${portB}/health`);
  await retryUntil(() => rpc(portA, "bench_echo/echo", {}), 20_000);
  const body = JSON.stringify({ params: { x: 1, s: "payload" } });
  const headers = { authorization: `Bearer ${token}` };
  const toResult = (r: Awaited<ReturnType<typeof load>>): DriveResult => ({ rps: r.rps, p50_ms: r.p50, p99_ms: r.p99, calls: 0 });
  httpDirect = toResult(await load({ url: `http://127.0.0.1:${portB}/rpc/bench_echo/echo`, body, headers, connections: 50, seconds: SECONDS }));
  httpVia = toResult(await load({ url: `http://127.0.0.1:${portA}/rpc/bench_echo/echo`, body, headers, connections: 50, seconds: SECONDS }));
} finally {
  await stop(a);
  await stop(b);
}

lines.push(`\n## Client over HTTP (autocannon, 50 connections, ${SECONDS} s)\n`);
lines.push("| path | req/s | p50 ms | p99 ms |", "|---|---|---|---|");
lines.push(row("client → B (B runs it)", httpDirect!), row("client → A → B (peer link hop)", httpVia!));
lines.push(`\nratio via A / direct = ${(httpVia!.rps / httpDirect!.rps).toFixed(2)}`);
console.log(lines.join("\n"));
