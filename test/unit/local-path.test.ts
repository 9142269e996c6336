/**
 * Every way into a local execution must answer, count and time out as call() does: the local
 * path (Router.callResult, what service proxies and /rpc use), which counts the call itself, and
 * the peer link's entry (Router.serveRemote), which counts executions only. Each case runs
 * through each way on fresh routers and compares.
 */
import { describe, expect, it } from "vitest";
import pino from "pino";
import { FakeClock } from "../../src/util/clock.js";
import { TimerQueue } from "../../src/util/timer-queue.js";
import { BaseService } from "../../src/services/base-service.js";
import { serviceMethod } from "../../src/services/method-options.js";
import { stubContext } from "../helpers/service-context.js";
import { instantiate } from "../../src/services/loader.js";
import { LocalServices } from "../../src/services/local-services.js";
import { ClusterRegistry } from "../../src/cluster/registry.js";
import { SingleNodeMembership } from "../../src/testing/single-node-membership.js";
import { NodeMetrics } from "../../src/metrics/metrics.js";
import { Router } from "../../src/rpc/router.js";
import { LINGER_MS, LocalLimiter } from "../../src/rpc/local-limiter.js";
import { Cancellation } from "../../src/rpc/cancellation.js";
import { P2PError } from "../../src/errors.js";
import { currentCall, type CallContext } from "../../src/rpc/context.js";

const logger = pino({ level: "silent" });

/** Resolvers of the `slow` calls in progress, and the signals they saw. */
let pending: Array<(value: unknown) => void> = [];
let signals: AbortSignal[] = [];

class Svc extends BaseService {
  static override SERVICE_NAME = "svc";
  @serviceMethod({ public: true }) async ok(params: Record<string, unknown>) {
    return { echo: params };
  }
  @serviceMethod() syncOk() {
    return 42;
  }
  @serviceMethod() syncThrow(): never {
    throw new P2PError("CONFLICT", "sync", { why: "test" });
  }
  @serviceMethod() async nested() {
    throw new P2PError("UNAVAILABLE", "from a nested call", { reason: "node_left", other: 1 });
  }
  @serviceMethod() async plain() {
    throw new Error("boom");
  }
  @serviceMethod({ params: { type: "object", properties: { n: { type: "number" } }, required: ["n"] } }) async typed({ n }: { n: number }) {
    return n * 2;
  }
  @serviceMethod() slow() {
    signals.push(this.call.signal);
    return new Promise((resolve) => pending.push(resolve));
  }
}

async function setup(maxRunning = 4, draining = false) {
  pending = [];
  signals = [];
  const clock = new FakeClock(1000);
  const timers = new TimerQueue(clock);
  const local = new LocalServices();
  local.add(await instantiate(Svc, "svc", { logger, lifecycleTimeoutMs: 100, contextFor: (info) => stubContext(info, { currentCall: () => currentCall.getStore()?.scope }) }));
  const membership = new SingleNodeMembership("n1", "127.0.0.1:1", { role: "worker", version: "t", started_at: 0, services: local.meta() });
  const metrics = new NodeMetrics("n1", false);
  const limiter = new LocalLimiter({ maxRunning, maxQueued: 8 }, timers);
  const router = new Router({ localId: "n1", local, registry: new ClusterRegistry(membership), clock: timers, metrics, localLimiter: limiter, isDraining: () => draining });
  return { clock, router, metrics, limiter };
}

/** Lets every promise chain of the calls in progress run (the clock is fake: no timer fires). */
const settle = () => new Promise((r) => setImmediate(r));

type Bed = Awaited<ReturnType<typeof setup>>;
type Via = "call" | "local" | "link";

const ctxOf = (clock: FakeClock, budget = 1000, extra: Partial<CallContext> = {}): CallContext => ({ caller: { sub: "t", role: "service" }, deadline: clock.now() + budget, traceId: "0".repeat(31) + "1", ...extra });

function invoke(bed: Bed, via: Via, ctx: CallContext, method: string, params: Record<string, unknown> = {}): Promise<unknown> {
  if (via === "call") return bed.router.call(ctx, "svc", method, params).then((out) => out.result);
  if (via === "local") return bed.router.callResult(ctx, bed.router.ref("svc", method), params);
  return bed.router.serveRemote(ctx, "svc", method, params);
}

async function outcome(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    (value) => ({ value }),
    (err: unknown) => (err instanceof P2PError ? { code: err.code, message: err.message, data: err.data } : { raw: String(err) }),
  );
}

/**
 * The rpc series of the metrics text, sorted (the local path may count a few microtasks
 * earlier); `executedOnly`: the executions alone (what a call from the link counts).
 */
async function series(metrics: NodeMetrics, executedOnly: boolean): Promise<string[]> {
  const counted = executedOnly ? /^p2p_rpc_executed_total\{/ : /^(p2p_rpc_(requests|executed)_total|p2p_rpc_duration_seconds_count)\{/;
  return (await metrics.text()).split("\n").filter((l) => counted.test(l)).sort();
}

/** Runs `scenario` on a fresh router per way in and compares what each saw with call(). */
async function both(scenario: (bed: Bed, via: Via) => Promise<unknown>): Promise<void> {
  const seen: Record<Via, unknown> = { call: undefined, local: undefined, link: undefined };
  const executions: Record<Via, unknown> = { call: undefined, local: undefined, link: undefined };
  for (const via of ["call", "local", "link"] as const) {
    const bed = await setup();
    const out = await scenario(bed, via);
    seen[via] = { out, metrics: await series(bed.metrics, false), running: bed.limiter.active };
    executions[via] = { out, metrics: await series(bed.metrics, true), running: bed.limiter.active };
  }
  expect(seen.local).toEqual(seen.call);
  expect(executions.link).toEqual(executions.call);
}

describe("router: the local path (callResult) and the link (serveRemote) = call()", () => {
  it("answers, counts and times like call() for results and errors of every kind", async () => {
    await both(async (bed, via) => [
      await outcome(invoke(bed, via, ctxOf(bed.clock), "ok", { a: 1 })),
      await outcome(invoke(bed, via, ctxOf(bed.clock), "syncOk")),
      await outcome(invoke(bed, via, ctxOf(bed.clock), "syncThrow")),
      await outcome(invoke(bed, via, ctxOf(bed.clock), "nested")),
      await outcome(invoke(bed, via, ctxOf(bed.clock), "plain")),
      await outcome(invoke(bed, via, ctxOf(bed.clock), "typed", { n: 2 })),
      await outcome(invoke(bed, via, ctxOf(bed.clock), "typed", { n: "x" })),
      await outcome(invoke(bed, via, ctxOf(bed.clock, 0), "ok")),
      await outcome(invoke(bed, via, ctxOf(bed.clock, 10, { caller: { sub: "c", role: "client" } }), "syncOk")),
      await outcome(invoke(bed, via, ctxOf(bed.clock, 10, { caller: { sub: "c", role: "client" } }), "ok", { a: 2 })),
      await outcome(invoke(bed, via, ctxOf(bed.clock), "absent")),
    ]);
  });

  it("times out at the deadline, fires this.call.signal, and holds the slot until the method settles", async () => {
    await both(async (bed, via) => {
      const call = outcome(invoke(bed, via, ctxOf(bed.clock, 500), "slow"));
      await settle();
      bed.clock.advance(499);
      const before = [signals[0]!.aborted, bed.limiter.active];
      bed.clock.advance(1);
      const out = await call;
      const after = [signals[0]!.aborted, bed.limiter.active];
      pending[0]!("late");
      await settle();
      return { before, out, after, reason: (signals[0]!.reason as P2PError).code, finally: bed.limiter.active };
    });
  });

  it("a method that never settles keeps its slot until LINGER_MS past the deadline, even when its caller went away", async () => {
    await both(async (bed, via) => {
      const cancel = new Cancellation();
      const calls = [outcome(invoke(bed, via, ctxOf(bed.clock, 500), "slow")), outcome(invoke(bed, via, ctxOf(bed.clock, 800, { cancel }), "slow"))];
      await settle();
      cancel.cancel(new Error("client gone"));
      const held: number[] = [bed.limiter.active];
      for (const step of [500, LINGER_MS - 1, 1, 299, 1]) {
        bed.clock.advance(step);
        await settle();
        held.push(bed.limiter.active);
      }
      return { out: await Promise.all(calls), held };
    });
  });

  it("answers at once when the caller goes away; the method's signal fires; the slot waits for the method", async () => {
    await both(async (bed, via) => {
      const cancel = new Cancellation();
      const call = outcome(invoke(bed, via, ctxOf(bed.clock, 5000, { cancel }), "slow"));
      await settle();
      cancel.cancel(new P2PError("TIMEOUT", "the parent's deadline"));
      const out = await call;
      const held = bed.limiter.active;
      pending[0]!(1);
      await settle();
      return { out, aborted: signals[0]!.aborted, held, finally: bed.limiter.active };
    });
  });

  it("queues behind a full limiter like call()", async () => {
    await both(async (bed, via) => {
      const first = [0, 1].map(() => outcome(invoke(bed, via, ctxOf(bed.clock), "slow")));
      // maxRunning 4: one method may hold half (2); the third waits in the queue.
      const third = outcome(invoke(bed, via, ctxOf(bed.clock), "slow"));
      await settle();
      const running = [pending.length, bed.limiter.active, bed.limiter.queued];
      pending[0]!("a");
      await settle();
      pending[2]!("c");
      pending[1]!("b");
      return { running, out: await Promise.all([...first, third]) };
    });
  });

  it("a caller already gone is answered at once; the method's signal has fired; the slot waits for the method", async () => {
    await both(async (bed, via) => {
      const cancel = new Cancellation();
      cancel.cancel(new Error("gone"));
      const out = await outcome(invoke(bed, via, ctxOf(bed.clock, 1000, { cancel }), "slow"));
      const held = bed.limiter.active;
      pending[0]!("late");
      await settle();
      return { out, aborted: signals[0]!.aborted, held, finally: bed.limiter.active };
    });
  });

  it("a draining node forwards through call() (here: no other host, so 503 draining)", async () => {
    const bed = await setup(4, true);
    expect(bed.router.callLocal(ctxOf(bed.clock), bed.router.ref("svc", "ok"), {})).toBeNull();
    expect(await outcome(bed.router.callResult(ctxOf(bed.clock), bed.router.ref("svc", "ok"), {}))).toMatchObject({ code: "UNAVAILABLE", data: { reason: "draining" } });
    expect(bed.limiter.active).toBe(0);
  });
});
