/**
 * Part one of bench/scale.ts: the routing cost alone, in one process. A node's real router,
 * registry, cluster caller, pipeline (least-latency balancer, breakers, bulkheads, hedge timers),
 * member health and metrics, in a cluster of N members described to it by a membership source
 * (each member hosting its own services, bench_echo on two of them, each member re-announcing
 * its metadata as often as a node's load report allows: every max(10 s, N × 200 ms)); the peer
 * link replaced by a link that answers at once. A service on the node calls bench_echo.echo
 * through this.proxy, 50 in flight. CPU µs per call at each N, as a ratio to the first N.
 * Runs the built code (dist/, as the node processes do): `npm run build` first.
 */
import { NodeMetrics } from "../dist/metrics/metrics.js";
import { MethodWindows } from "../dist/observe/method-window.js";
import { ClusterRegistry, type MembershipSource } from "../dist/cluster/registry.js";
import type { MemberView, NodeMeta, ServiceMeta } from "../dist/cluster/types.js";
import { Router } from "../dist/rpc/router.js";
import { LocalLimiter } from "../dist/rpc/local-limiter.js";
import { ClusterCaller } from "../dist/rpc/remote-caller.js";
import { RpcClientMetrics } from "../dist/rpc/rpc-metrics.js";
import { MemberHealth } from "../dist/rpc/member-health.js";
import { createPipelineDeps, type PipelineDeps } from "../dist/rpc/pipeline.js";
import { BALANCER_NAMES, createBalancer, type BalancerName } from "../dist/rpc/balancers/index.js";
import { LocalServices } from "../dist/services/local-services.js";
import { createProxy } from "../dist/services/proxy.js";
import { newTraceId } from "../dist/rpc/context.js";
import { systemClock } from "../dist/util/clock.js";
import { systemRandom } from "../dist/util/random.js";
import { TimerQueue } from "../dist/util/timer-queue.js";
import type { PeerLinkPool } from "../dist/transport/peer-link/index.js";

const CONCURRENCY = 50;
const LOAD_ANNOUNCE_MIN_MS = 10_000;
const LOAD_ANNOUNCE_PER_MEMBER_MS = 200;

const method = (name: string) => ({ name, public: true, idempotent: true });
const ownServices = (i: number): ServiceMeta[] => [{ name: `svc_${i}`, version: "1", methods: [method("a"), method("b"), method("c")] }];

/** N members as gossip would describe them, with metadata changes at the rate nodes announce load. */
class SimMembership implements MembershipSource {
  readonly localId = "m0";
  private readonly listeners = new Set<() => void>();
  private readonly list: MemberView[];
  private timer: ReturnType<typeof setInterval> | null = null;
  changes = 0;

  constructor(n: number) {
    this.list = Array.from({ length: n }, (_, i) => {
      const services = ownServices(i);
      if (i === 1 || i === 2) services.push({ name: "bench_echo", version: "1", methods: [method("echo")] });
      if (i === 0) services.push({ name: "bench_driver", version: "1", methods: [method("run")] });
      const meta: NodeMeta = { role: i === 0 ? "coordinator" : "worker", version: "1", started_at: i, services, load: { inflight: 0, lag_ms: 0 } };
      return { nodeId: `m${i}`, address: `127.0.0.1:${20000 + i}`, state: "alive", incarnation: 0, meta, lastChange: 0 };
    });
    // Each member re-announces every max(10 s, N × 200 ms): N of them give N / that per second.
    const everyMs = Math.max(LOAD_ANNOUNCE_MIN_MS, n * LOAD_ANNOUNCE_PER_MEMBER_MS) / n;
    let next = 0;
    this.timer = setInterval(() => {
      const m = this.list[next++ % n]!;
      this.list[this.list.indexOf(m)] = { ...m, incarnation: m.incarnation + 1, meta: { ...m.meta!, load: { inflight: next % 7, lag_ms: 0 } } };
      this.changes++;
      for (const l of this.listeners) l();
    }, Math.max(1, everyMs));
  }

  members(): MemberView[] {
    return [...this.list];
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
  }
}

export interface RoutingFigures {
  n: number;
  cpuUs: number;
  rps: number;
  changesPerS: number;
}

/** Wired as src/node.ts wires a node: the router's timers on a TimerQueue, the pipeline's on the clock. */
export async function routingCost(n: number, calls: number, rounds: number): Promise<RoutingFigures> {
  const clock = systemClock;
  const callTimers = new TimerQueue(clock);
  const pipelineClock = clock;
  const membership = new SimMembership(n);
  const registry = new ClusterRegistry(membership);
  const metrics = new NodeMetrics("m0", false);
  metrics.attachWindows(new MethodWindows(clock));
  const health = new MemberHealth(registry, () => undefined);
  const shared = createPipelineDeps({ clock: pipelineClock, random: systemRandom, health });
  membership.onChange(() => health.update());
  health.update();
  const pipelines = Object.fromEntries(BALANCER_NAMES.map((name) => [name, { ...shared, balancer: createBalancer(name, { random: systemRandom, stats: shared.stats }) }])) as Record<BalancerName, PipelineDeps>;
  // Answers come back in batches, once per turn of the event loop, as a link's frames do.
  const echoResult = { x: 1, s: "payload" };
  let waiting: ((value: unknown) => void)[] = [];
  const answerAll = () => {
    const batch = waiting;
    waiting = [];
    for (const resolve of batch) resolve(echoResult);
  };
  const pool = {
    call: () =>
      new Promise((resolve) => {
        if (waiting.push(resolve) === 1) setImmediate(answerAll);
      }),
  } as unknown as PeerLinkPool;
  const caller = new ClusterCaller({ pool, pipelines, defaultBalancer: "least-latency", registry, clock: pipelineClock, metrics: new RpcClientMetrics(metrics, shared.breakers) });
  const local = new LocalServices();
  const router = new Router({ localId: "m0", local, registry, clock: callTimers, metrics, isDraining: () => false, localLimiter: new LocalLimiter({ maxRunning: 1000, maxQueued: 4000 }, callTimers), remote: caller });
  const { proxyFor } = createProxy(router, clock, "bench_driver", 30_000);
  const echo = proxyFor("bench_echo").echo!;
  local.add({
    name: "bench_driver",
    version: "1",
    description: "",
    instance: {} as never,
    status: "running",
    methods: new Map([["run", { descriptor: { name: "run", public: true, idempotent: true }, validate: null, invoke: async (params: Record<string, unknown>) => {
      let left = params.calls as number;
      await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
        while (left-- > 0) await echo({ x: 1, s: "payload" });
      }));
      return {};
    } }]]),
  });
  const run = async (count: number) => {
    const ctx = { caller: { sub: "bench", role: "admin" as const }, deadline: clock.now() + 300_000, traceId: newTraceId() };
    const cpu = process.cpuUsage();
    const t0 = performance.now();
    const changes0 = membership.changes;
    await router.call(ctx, "bench_driver", "run", { calls: count });
    const used = process.cpuUsage(cpu);
    const s = (performance.now() - t0) / 1000;
    return { cpuUs: (used.user + used.system) / count, rps: count / s, changesPerS: (membership.changes - changes0) / s };
  };
  try {
    await run(Math.min(calls, 20_000));
    const out = [];
    for (let r = 0; r < rounds; r++) out.push(await run(calls));
    out.sort((a, b) => a.cpuUs - b.cpuUs);
    const best = out[0]!;
    return { n, cpuUs: Math.round(best.cpuUs * 100) / 100, rps: Math.round(best.rps), changesPerS: Math.round(best.changesPerS * 10) / 10 };
  } finally {
    membership.close();
  }
}
