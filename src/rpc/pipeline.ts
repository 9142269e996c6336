/**
 * The one call pipeline for remote calls. Order, per attempt (stated once, here):
 *
 *   1. deadline   — no attempt starts with less than MIN_ATTEMPT_MS left; the call answers
 *                   TIMEOUT (504) once its deadline is spent, whatever was tried meanwhile.
 *   2. balancer   — pick a node among the candidates not excluded and not yet tried.
 *   3. breakers   — an open endpoint or node breaker skips the node (re-pick, no attempt
 *                   spent); half-open reserves a probe slot.
 *   4. stats      — the node's in-flight count goes up (queued calls count).
 *   5. bulkhead   — run now, wait in the node's bounded queue, or refuse (bulkhead_full).
 *   6. deadline   — the attempt runs under the call's deadline, on the injected clock (the
 *                   peer link's own timer is only a backstop, armed later than this one).
 *   7. outcome    — classify.ts decides what the outcome means for stats and breakers;
 *   8. retry      — another node may try when classify says so, within maxAttempts.
 *
 * Idempotent calls never wait on a node that went silent: when an attempt takes longer than
 * its endpoint's recent latency justifies (hedgeDelay), or its target turns suspect
 * (PipelineDeps.health), a second attempt starts on another node while the first keeps
 * running; the first answer wins. The breaker sits outside the bulkhead, so a call refused
 * by a full bulkhead (or timed out in its queue) never counts.
 * Final errors: the method's own answer as is; TIMEOUT when the deadline ran out; else
 * UNAVAILABLE "no healthy node can take the call" with `tried`, `skipped` (open breakers)
 * and `last_error` in data.
 */
import { P2PError, type WireError } from "../errors.js";
import type { Clock, Timer } from "../util/clock.js";
import type { Random } from "../util/random.js";
import { createBalancer, DEFAULT_BALANCER } from "./balancers/index.js";
import type { Balancer, BalanceContext, BalancerName, Candidate } from "./balancers/types.js";
import { CallStats, type CallStatsOptions } from "./balancers/call-stats.js";
import { BulkheadSet, type BulkheadOptions } from "./bulkhead.js";
import { BreakerSet, type BreakerSetOptions } from "./circuit-breaker.js";
import { classify, normalizeAttemptError } from "./classify.js";
import { withDeadline, type Deadline } from "./deadline.js";

/** Attempts per call, the first one included: enough to step over one or two bad nodes. */
export const DEFAULT_MAX_ATTEMPTS = 3;
/** No attempt starts with less budget than this (ms): it could only time out. */
export const MIN_ATTEMPT_MS = 5;
/**
 * A second attempt of an idempotent call starts after max(floor, factor × expected latency),
 * where the floor is HEDGE_FLOOR_MS, or half the budget left when that is shorter (at least
 * HEDGE_MIN_FLOOR_MS): a call with a short deadline sent to a node that just went silent
 * still gets its second attempt in time.
 */
export const HEDGE_FLOOR_MS = 1_000;
export const HEDGE_MIN_FLOOR_MS = 50;
export const HEDGE_FACTOR = 4;

/** When an idempotent attempt expected to take `expectedMs` gets a second one, with `remainingMs` of budget left; null: never. */
export function hedgeDelay(expectedMs: number, remainingMs: number): number | null {
  const floor = Math.min(HEDGE_FLOOR_MS, Math.max(HEDGE_MIN_FLOOR_MS, remainingMs / 2));
  const delay = Math.max(floor, HEDGE_FACTOR * expectedMs);
  return delay < remainingMs - MIN_ATTEMPT_MS ? delay : null;
}

/** Tells when a node stops looking healthy (membership: suspect, dead, left). */
export interface NodeHealth {
  /** Calls `onTrouble` once if `nodeId` turns unhealthy; returns the unsubscribe function. */
  watch(nodeId: string, onTrouble: () => void): () => void;
}

/** Built once by the router and shared by every call. */
export interface PipelineDeps {
  clock: Clock;
  balancer: Balancer;
  breakers: BreakerSet;
  bulkheads: BulkheadSet;
  stats: CallStats;
  health?: NodeHealth;
}

export interface PipelineOptions {
  clock: Clock;
  random: Random;
  /** Default "least-latency". */
  balancer?: BalancerName;
  breaker?: BreakerSetOptions;
  bulkhead?: BulkheadOptions;
  stats?: CallStatsOptions;
  health?: NodeHealth;
}

/** Everything a router needs, wired with one shared CallStats (also for metrics). */
export function createPipelineDeps(options: PipelineOptions): PipelineDeps {
  const { clock, random } = options;
  const stats = new CallStats(clock, options.stats);
  const deps: PipelineDeps = {
    clock,
    stats,
    balancer: createBalancer(options.balancer ?? DEFAULT_BALANCER, { random, stats }),
    breakers: new BreakerSet(clock, options.breaker),
    bulkheads: new BulkheadSet(clock, options.bulkhead),
  };
  if (options.health) deps.health = options.health;
  return deps;
}

/** A node left the cluster: drop what the pipeline remembers of it. */
export function forgetNode(deps: PipelineDeps, nodeId: string): void {
  deps.stats.forget(nodeId);
  deps.breakers.forget(nodeId);
  deps.bulkheads.forget(nodeId);
}

/** One call; built per call, so kept small (the deps travel separately). */
export interface ResilientCall<T> extends BalanceContext {
  /** Nodes hosting the service (the router has already preferred the local node). */
  candidates: readonly Candidate[];
  /** Nodes not to try at all (e.g. already tried by an earlier hop). */
  exclude?: ReadonlySet<string>;
  deadline: Deadline;
  /** The method is safe to run twice: retries after "may have run", hedging. */
  idempotent: boolean;
  /** Attempts, the first included; default DEFAULT_MAX_ATTEMPTS. */
  maxAttempts?: number;
  /** Send the call to `nodeId` with `remainingMs` of budget; resolve with its result. */
  attempt: (nodeId: string, remainingMs: number) => Promise<T>;
}

type Outcome<T> = { ok: true; value: T } | { ok: false; err: P2PError };
type Event<T> = { kind: "settled"; outcome: Outcome<T> } | { kind: "hedge" };

export function callWithResilience<T>(deps: PipelineDeps, call: ResilientCall<T>): Promise<T> {
  return new CallRun(deps, call).go();
}

/** One call's attempts: started, raced and accounted for. */
class CallRun<T> {
  private tried: string[] | undefined;
  /** Nodes stepped over because a breaker refused. */
  private skipped: string[] | undefined;
  private lastError: P2PError | undefined;
  private running = 0;
  private started = 0;
  private readonly maxAttempts: number;
  /** Events not yet consumed, and the wake-up of go() when it waits for one. */
  private readonly events: Event<T>[] = [];
  private wake: (() => void) | undefined;
  /** Hedge timers and health watches to end with the call (a timer is kept as is: no closure per call). */
  private cleanups: Array<Timer | (() => void)> | undefined;

  constructor(
    private readonly deps: PipelineDeps,
    private readonly call: ResilientCall<T>,
  ) {
    this.maxAttempts = call.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
  }

  /** The call's outcome; whatever it is, the hedge timers and watches are gone when it settles. */
  async go(): Promise<T> {
    try {
      return await this.run();
    } finally {
      this.dispose();
    }
  }

  private async run(): Promise<T> {
    const { deadline } = this.call;
    if (!this.startAttempt()) return this.giveUp();
    for (;;) {
      const event = this.events.shift() ?? (await this.next());
      if (event.kind === "hedge") {
        if (this.running > 0) this.startAttempt();
        continue;
      }
      const { outcome } = event;
      this.running--;
      if (outcome.ok) return outcome.value;
      const err = outcome.err;
      const c = classify(err);
      // The caller's budget is spent: 504, whichever attempt noticed first.
      if (c.kind === "deadline_exceeded") throw deadline.timeoutError(this.failureData());
      const retry = c.retry === "always" || (c.retry === "idempotent" && this.call.idempotent);
      if (!retry && !(c.kind === "unavailable" && this.running > 0)) throw err;
      this.lastError = err;
      if (this.running > 0 || this.startAttempt()) continue;
      return this.giveUp();
    }
  }

  private dispose(): void {
    const cleanups = this.cleanups;
    if (cleanups === undefined) return;
    this.cleanups = undefined;
    for (const cleanup of cleanups) {
      if (typeof cleanup === "function") cleanup();
      else cleanup.cancel();
    }
  }

  private giveUp(): never {
    const { deadline, service, method } = this.call;
    if (deadline.remaining() < MIN_ATTEMPT_MS) throw deadline.timeoutError(this.failureData());
    throw new P2PError("UNAVAILABLE", `no healthy node can take the call to ${service}.${method}`, this.failureData("no_healthy_node"));
  }

  /** Starts one more attempt if budget, attempts and a node allow; false if none started. */
  private startAttempt(): boolean {
    if (this.started >= this.maxAttempts || this.call.deadline.remaining() < MIN_ATTEMPT_MS) return false;
    const nodeId = this.pickAllowed();
    if (nodeId === undefined) return false;
    (this.tried ??= []).push(nodeId);
    this.started++;
    this.running++;
    void this.attemptOn(nodeId);
    if (this.call.idempotent && this.started < this.maxAttempts) this.armHedge(nodeId);
    return true;
  }

  /** A second attempt if this one runs long or its node turns suspect (idempotent calls only). */
  private armHedge(nodeId: string): void {
    const { clock, stats, health } = this.deps;
    const { service, method, deadline } = this.call;
    const delay = hedgeDelay(stats.expected(nodeId, service, method) ?? 0, deadline.remaining());
    let fired = false;
    const fire = () => {
      if (fired) return;
      fired = true;
      this.push({ kind: "hedge" });
    };
    if (delay !== null) {
      (this.cleanups ??= []).push(clock.setTimeout(fire, delay));
    }
    if (health) (this.cleanups ??= []).push(health.watch(nodeId, fire));
  }

  /** Runs one attempt with its bookkeeping and pushes its outcome; never rejects. */
  private async attemptOn(nodeId: string): Promise<void> {
    const { stats, breakers, bulkheads, clock } = this.deps;
    const { service, method, deadline } = this.call;
    const token = stats.start(nodeId, service, method);
    const head = bulkheads.get(nodeId);
    let holdsSlot = false;
    let outcome: Outcome<T>;
    try {
      const wait = head.enter(deadline);
      if (wait !== undefined) await wait;
      holdsSlot = true;
      const value = await withDeadline(invoke(this.call, nodeId, deadline.remaining()), deadline, clock);
      token.done("elapsed");
      breakers.onSuccess(nodeId, service, method);
      outcome = { ok: true, value };
    } catch (raw) {
      const err = normalizeAttemptError(raw, nodeId);
      token.done(classify(err).sample);
      breakers.onFailure(nodeId, service, method, err);
      outcome = { ok: false, err };
    } finally {
      if (holdsSlot) head.leave();
    }
    this.push({ kind: "settled", outcome });
  }

  private push(event: Event<T>): void {
    this.events.push(event);
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  /** The next event, once one is pushed (one promise per wait, resolved with the event itself). */
  private next(): Promise<Event<T>> {
    return new Promise<Event<T>>((resolve) => (this.wake = () => resolve(this.events.shift()!)));
  }

  /** Balancer pick among the eligible candidates whose breakers let the call through. */
  private pickAllowed(): string | undefined {
    const { balancer, breakers } = this.deps;
    const { service, method } = this.call;
    let pool = this.eligible();
    for (;;) {
      const candidate = balancer.pick(pool, this.call);
      if (candidate === undefined) return undefined;
      if (breakers.allow(candidate.nodeId, service, method)) return candidate.nodeId;
      (this.skipped ??= []).push(candidate.nodeId);
      pool = pool.filter((c) => c !== candidate);
    }
  }

  /** The candidates left; the common first pick (nothing excluded) allocates nothing. */
  private eligible(): readonly Candidate[] {
    const { candidates, exclude } = this.call;
    const { tried, skipped } = this;
    if ((exclude === undefined || exclude.size === 0) && tried === undefined && skipped === undefined) return candidates;
    return candidates.filter((c) => !exclude?.has(c.nodeId) && !tried?.includes(c.nodeId) && !skipped?.includes(c.nodeId));
  }

  private failureData(reason?: string): Record<string, unknown> {
    const data: Record<string, unknown> = {};
    if (reason !== undefined) data.reason = reason;
    data.tried = this.tried ?? [];
    if (this.skipped !== undefined) data.skipped = this.skipped;
    if (this.lastError !== undefined) data.last_error = this.lastError.toJSON() satisfies WireError;
    return data;
  }
}

/** The attempt, with a synchronous throw turned into a rejection. */
function invoke<T>(call: ResilientCall<T>, nodeId: string, remainingMs: number): Promise<T> {
  try {
    return call.attempt(nodeId, remainingMs);
  } catch (err) {
    return Promise.reject(err);
  }
}
