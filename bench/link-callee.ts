/**
 * The callee side of calls arriving over the peer link, in one process and nothing else: request
 * frames as a caller writes them → Responder → the node's link handler → Router (limiter, metrics
 * with live windows, TimerQueue) → an async echo method → answer frames into a send buffer (no
 * socket, no cipher: those are the link's, measured by bench/peer-link.ts). 100 calls in flight
 * per batch, as bench/rpc-cluster.ts drives them. Prints CPU µs per call (best of the rounds).
 * Runs the built code (dist/): `npm run build` first. BENCH_P2P_BEFORE=dir (a built checkout of
 * an earlier commit) runs it in alternate rounds beside this one, each in a process of its own
 * (two copies in one process would share, and double, Node 20's AsyncLocalStorage hooks).
 * Instructions per call, whatever the load: `BENCH_LINK_ROOT=. valgrind --tool=callgrind node
 * node_modules/tsx/dist/cli.mjs bench/link-callee.ts <calls>` with two call counts; the difference
 * of the instruction totals over the difference of the counts.
 */
import { execFileSync } from "node:child_process";
import { loadavg } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

type Dist = {
  metrics: typeof import("../dist/metrics/metrics.js");
  windows: typeof import("../dist/observe/method-window.js");
  registry: typeof import("../dist/cluster/registry.js");
  router: typeof import("../dist/rpc/router.js");
  limiter: typeof import("../dist/rpc/local-limiter.js");
  local: typeof import("../dist/services/local-services.js");
  handler: typeof import("../dist/rpc/link-handler.js");
  responder: typeof import("../dist/transport/peer-link/responder.js");
  messages: typeof import("../dist/transport/peer-link/messages.js");
  inflight: typeof import("../dist/util/inflight.js");
  clock: typeof import("../dist/util/clock.js");
  timers: typeof import("../dist/util/timer-queue.js");
  membership: typeof import("../dist/testing/single-node-membership.js");
};

const IN_FLIGHT = 100;
const here = join(dirname(fileURLToPath(import.meta.url)), "..");
const calls = Number(process.argv[2] ?? 200_000);
const rounds = Number(process.argv[3] ?? process.env.BENCH_ROUNDS ?? 5);

async function load(root: string): Promise<Dist> {
  const d = (path: string) => import(join(root, "dist", path));
  return {
    metrics: await d("metrics/metrics.js"),
    windows: await d("observe/method-window.js"),
    registry: await d("cluster/registry.js"),
    router: await d("rpc/router.js"),
    limiter: await d("rpc/local-limiter.js"),
    local: await d("services/local-services.js"),
    handler: await d("rpc/link-handler.js"),
    responder: await d("transport/peer-link/responder.js"),
    messages: await d("transport/peer-link/messages.js"),
    inflight: await d("util/inflight.js"),
    clock: await d("util/clock.js"),
    timers: await d("util/timer-queue.js"),
    membership: await d("testing/single-node-membership.js"),
  };
}

/** A node's callee path, wired as src/node.ts wires it; returns a function serving `count` calls. */
function callee(m: Dist): (count: number) => Promise<void> {
  const clock = m.clock.systemClock;
  const callTimers = new m.timers.TimerQueue(clock);
  const local = new m.local.LocalServices();
  local.add({
    name: "bench_echo",
    version: "1",
    description: "",
    instance: {} as never,
    status: "running",
    methods: new Map([["echo", { descriptor: { name: "echo", public: true, idempotent: true }, validate: null, invoke: async (params: Record<string, unknown>) => params }]]),
  });
  const membership = new m.membership.SingleNodeMembership("callee", "127.0.0.1:1", { role: "worker", version: "1", started_at: 0, services: local.meta() });
  const metrics = new m.metrics.NodeMetrics("callee");
  metrics.attachWindows(new m.windows.MethodWindows(clock));
  const inflight = new m.inflight.InflightTracker(clock);
  const localLimiter = new m.limiter.LocalLimiter({ maxRunning: 1000, maxQueued: 4000 }, callTimers);
  const router = new m.router.Router({ localId: "callee", local, registry: new m.registry.ClusterRegistry(membership), clock: callTimers, metrics, isDraining: () => false, localLimiter });
  const handler = m.handler.createLinkHandler({ router, clock, inflight, isDraining: () => false, invalidateLocal: () => 0 });
  const responder = new m.responder.Responder(handler, { debug() {}, info() {}, warn() {} }, callTimers);
  // The requests of one batch, as a caller writes them (ids rewritten per batch).
  const requests = Buffer.alloc(64 * 1024);
  const frames: Array<[number, number]> = [];
  for (let i = 0, at = 0; i < IN_FLIGHT; i++) {
    const call = { service: "bench_echo", method: "echo", params: {}, caller: { sub: "bench_driver", role: "service" as const }, timeoutMs: 30_000, traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" };
    const end = m.messages.writeRequest(requests, at, 0, call, 30_000, JSON.stringify({ x: 1, s: "payload" }));
    frames.push([at, end]);
    at = end;
  }
  // The link's send buffer, emptied per batch; every answer must be a result.
  const out = Buffer.alloc(1024 * 1024);
  let used = 0;
  const channel = {
    open: true,
    get writeAt() {
      return used;
    },
    reserve: () => out,
    commit(end: number) {
      if (out[used + 4] !== m.messages.FRAME.result) throw new Error(`not a result: ${out.toString("utf8", used + 13, end)}`);
      used = end;
      return 1;
    },
  } as unknown as Parameters<typeof responder.serve>[0];
  let nextId = 1;
  const batch = (n: number) =>
    new Promise<void>((resolve) => {
      used = 0;
      let left = n;
      const settled = () => {
        if (--left === 0) resolve();
      };
      for (let i = 0; i < n; i++) {
        const [start, end] = frames[i]!;
        const body = start + m.messages.FRAME_HEAD;
        requests.writeUInt32BE(0, body);
        requests.writeUInt32BE(nextId++, body + 4);
        responder.serve(channel, requests, body, end, "caller", settled);
      }
    });
  return async (count) => {
    for (let done = 0; done < count; done += IN_FLIGHT) await batch(Math.min(IN_FLIGHT, count - done));
  };
}

async function cpuPerCall(run: (count: number) => Promise<void>, count: number): Promise<number> {
  const cpu = process.cpuUsage();
  await run(count);
  const used = process.cpuUsage(cpu);
  return (used.user + used.system) / count;
}

/** One measurement of the code under `root`, in this process: CPU µs per call after a warm-up. */
async function measure(root: string): Promise<number> {
  const run = callee(await load(root));
  await run(20_000); // warm-up: optimised code, metric series created
  return cpuPerCall(run, calls);
}

if (process.env.BENCH_LINK_ROOT) {
  console.log(JSON.stringify({ us: await measure(process.env.BENCH_LINK_ROOT) }));
  process.exit(0);
}
const before = process.env.BENCH_P2P_BEFORE;
const subjects: Array<[string, string]> = [["now", here]];
if (before) subjects.unshift([`before (${before})`, before]);
const tsx = join(here, "node_modules/tsx/dist/cli.mjs");
const best = new Map<string, number>();
for (let round = 1; round <= rounds; round++) {
  const figures: string[] = [];
  for (const [name, root] of subjects) {
    const child = execFileSync(process.execPath, [tsx, fileURLToPath(import.meta.url), String(calls)], { env: { ...process.env, BENCH_LINK_ROOT: root }, encoding: "utf8" });
    const { us } = JSON.parse(child.trim().split("\n").pop()!) as { us: number };
    best.set(name, Math.min(best.get(name) ?? Infinity, us));
    figures.push(`${name} ${us.toFixed(2)}`);
  }
  console.log(`round ${round} (load ${loadavg()[0]!.toFixed(2)}): CPU µs per call ${figures.join(", ")}`);
}
console.log(`best: ${[...best].map(([name, us]) => `${name} ${us.toFixed(2)} µs`).join(", ")} (node ${process.version}, ${calls} calls per round, ${IN_FLIGHT} in flight)`);
process.exit(0);
