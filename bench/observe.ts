/**
 * Live figures, measured:
 * 1. Hot-path cost of the per-method sliding window: calls/s through the router (a local
 *    method, the path every call takes) with and without the window, alternating rounds in
 *    the same process, best round of each. The router path is the window's worst case: over
 *    HTTP the same absolute cost is a smaller share of each call.
 * 2. GET /cluster/metrics answer time at N real node processes (default 50; 1 coordinator +
 *    workers, built-in services), and whether every node answered (none stale).
 * Every process is stopped by PID at the end. Run: npx tsx bench/observe.ts [N] [--gather-only]
 */
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import type { ChildProcess } from "node:child_process";
import pino from "pino";
import { systemClock } from "../src/util/clock.js";
import { BaseService } from "../src/services/base-service.js";
import { serviceMethod } from "../src/services/method-options.js";
import { instantiate } from "../src/services/loader.js";
import { LocalServices } from "../src/services/local-services.js";
import { ClusterRegistry } from "../src/cluster/registry.js";
import { SingleNodeMembership } from "../src/testing/single-node-membership.js";
import { NodeMetrics } from "../src/metrics/metrics.js";
import { Router } from "../src/rpc/router.js";
import { MethodWindows } from "../src/observe/method-window.js";
import { TokenService } from "../src/auth/tokens.js";
import { stubContext } from "../test/helpers/service-context.js";
import { BENCH_SECRETS, exitReport, spawnProcess, stop, waitHttp } from "./lib.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const N = Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? 50);

class Echo extends BaseService {
  @serviceMethod({ public: true }) echo(params: Record<string, unknown>) {
    return params;
  }
}

async function routerWith(windows: boolean): Promise<Router> {
  const local = new LocalServices();
  local.add(await instantiate(Echo, "bench", { logger: pino({ level: "silent" }), lifecycleTimeoutMs: 1000, contextFor: (info) => stubContext(info) }));
  const membership = new SingleNodeMembership("n1", "127.0.0.1:1", { role: "worker", version: "b", started_at: 0, services: local.meta() });
  const metrics = new NodeMetrics("n1", false);
  if (windows) metrics.attachWindows(new MethodWindows(systemClock));
  return new Router({ localId: "n1", local, registry: new ClusterRegistry(membership), clock: systemClock, metrics });
}

async function callsPerSecond(router: Router, calls: number): Promise<number> {
  const params = { a: 1 };
  const started = performance.now();
  for (let i = 0; i < calls; i++) {
    await router.call({ caller: { sub: "b", role: "admin" }, deadline: systemClock.now() + 30_000, traceId: "0".repeat(31) + "1" }, "bench", "echo", params);
  }
  return calls / ((performance.now() - started) / 1000);
}

async function hotPath(): Promise<void> {
  const [plain, windowed] = await Promise.all([routerWith(false), routerWith(true)]);
  const CALLS = 50_000;
  const ROUNDS = 15;
  await callsPerSecond(plain, 20_000);
  await callsPerSecond(windowed, 20_000);
  let bestPlain = 0;
  let bestWindowed = 0;
  const ratios: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    // Alternate which goes first so drift on a shared machine hits both alike.
    const [p, w] = r % 2 === 0 ? [await callsPerSecond(plain, CALLS), await callsPerSecond(windowed, CALLS)] : [0, await callsPerSecond(windowed, CALLS)];
    const plainRate = r % 2 === 0 ? p : await callsPerSecond(plain, CALLS);
    bestPlain = Math.max(bestPlain, plainRate);
    bestWindowed = Math.max(bestWindowed, w);
    ratios.push(w / plainRate);
  }
  ratios.sort((a, b) => a - b);
  const median = ratios[Math.floor(ratios.length / 2)]!;
  console.log("| router path, local method | calls/s (best of %d rounds × %d calls) |", ROUNDS, CALLS);
  console.log("|---|---|");
  console.log(`| without the metrics window | ${Math.round(bestPlain)} |`);
  console.log(`| with the metrics window | ${Math.round(bestWindowed)} |`);
  console.log(`| ratio of the best rounds (with / without) | ${(bestWindowed / bestPlain).toFixed(3)} |`);
  console.log(`| median ratio of back-to-back pairs | ${median.toFixed(3)} (${Math.abs((1 - median) * 100).toFixed(1)} % ${median <= 1 ? "slower" : "faster"} with the window) |`);
}

async function clusterGather(): Promise<void> {
  const BASE_PORT = 19700;
  const secrets = BENCH_SECRETS;
  const token = await new TokenService(secrets.P2P_JWT_SECRET).issue("bench", "client", 3600);
  const children: ChildProcess[] = [];
  const start = (i: number) => {
    const role = i === 0 ? "coordinator" : "worker";
    children.push(spawnProcess(process.execPath, [join(root, "bin/p2p.js"), role, "--port", String(BASE_PORT + i), "--node-id", `n${i}`, "--coord", `127.0.0.1:${BASE_PORT}`, "--log-file", `/tmp/p2p-bench-observe/n${i}.log`, "--services-dir", join(root, "test/fixtures/empty-services")], secrets));
  };
  const get = async (path: string) => (await fetch(`http://127.0.0.1:${BASE_PORT}${path}`, { headers: { authorization: `Bearer ${token}` } })).json() as Promise<Record<string, unknown>>;
  try {
    start(0);
    await waitHttp(`http://127.0.0.1:${BASE_PORT}/health`, 60_000);
    for (let i = 1; i < N; i += 5) {
      const batch = Array.from({ length: Math.min(5, N - i) }, (_, k) => i + k);
      batch.forEach(start);
      await Promise.all(
        batch.map((j) =>
          waitHttp(`http://127.0.0.1:${BASE_PORT + j}/health`, 240_000).catch((err: Error) => {
            throw new Error(`node n${j}: ${err.message}. ${exitReport(children[j]!) || "still running"}`);
          }),
        ),
      );
    }
    const deadline = Date.now() + 240_000;
    while (Date.now() < deadline && ((await get("/cluster/status")).members as { alive: number }).alive < N) await new Promise((r) => setTimeout(r, 200));
    const times: number[] = [];
    let stale = 0;
    let nodes = 0;
    for (let i = 0; i < 20; i++) {
      const started = performance.now();
      const body = (await get("/cluster/metrics")) as { nodes: { stale: boolean }[] };
      times.push(performance.now() - started);
      stale = Math.max(stale, body.nodes.filter((n) => n.stale).length);
      nodes = body.nodes.length;
      await new Promise((r) => setTimeout(r, 150)); // past the 100 ms reuse: every request is a full gather
    }
    times.sort((a, b) => a - b);
    const q = (p: number) => times[Math.min(times.length - 1, Math.floor(p * times.length))]!.toFixed(0);
    console.log(`\n| GET /cluster/metrics, ${N} processes | value |`);
    console.log("|---|---|");
    console.log(`| nodes in the answer | ${nodes} |`);
    console.log(`| most stale nodes in one answer | ${stale} |`);
    console.log(`| answer time p50 / p95 / max (ms, 20 requests) | ${q(0.5)} / ${q(0.95)} / ${times[times.length - 1]!.toFixed(0)} |`);
    console.log("| bound (a node not answering is marked stale) | 1500 ms + 100 ms guard |");
  } finally {
    await Promise.all(children.map((c) => stop(c)));
  }
}

if (!process.argv.includes("--gather-only")) await hotPath();
if (N > 0) await clusterGather();
