/**
 * The one call pipeline for remote calls. Order, per attempt (stated once, here):
 *
 *   1. deadline   — stop with TIMEOUT if the caller's deadline has passed.
 *   2. balancer   — pick a node among the candidates not excluded and not yet tried.
 *   3. breaker    — an open breaker skips the node (re-pick, no attempt spent);
 *                   half-open reserves a probe slot.
 *   4. stats      — the node's in-flight count goes up (queued calls count: a node with
 *                   a queue looks busier to the balancer).
 *   5. bulkhead   — run now, wait in the node's bounded queue, or refuse (bulkhead_full).
 *   6. timeout    — the attempt gets min(remaining deadline, attemptTimeoutMs), measured
 *                   when it leaves the queue; `remainingMs` is passed on to the next hop.
 *   7. outcome    — stats.done and breaker.onSuccess/onFailure record it;
 *   8. retry      — retry.ts decides whether another node may try; attempts are capped by
 *                   maxAttempts and by the deadline.
 *
 * The breaker sits outside the bulkhead and the timeout inside both, so a timed-out call
 * counts once against its node, and a call refused by a full bulkhead (or timed out in
 * its queue) never counts. The bulkhead slot is given back when the attempt settles or
 * times out; the attempt itself (peer link) must stop working past `remainingMs`.
 * Final errors: the method's own answer as is; TIMEOUT when the deadline ran out; else
 * UNAVAILABLE "no healthy node can take the call" with `tried`, `skipped` (open
 * breakers) and `last_error` in data.
 */
import { P2PError, type WireError } from "../errors.js";
import type { Clock } from "../util/clock.js";
import type { Random } from "../util/random.js";
import { createBalancer, DEFAULT_BALANCER } from "./balancers/index.js";
import type { Balancer, BalanceContext, BalancerName, Candidate } from "./balancers/types.js";
import { NodeStats, type NodeStatsOptions } from "./balancers/node-stats.js";
import { BulkheadSet, type BulkheadOptions } from "./bulkhead.js";
import { BreakerSet, type BreakerOptions } from "./circuit-breaker.js";
import { Deadline, withDeadline } from "./deadline.js";
import { isLocalRejection, isNodeFault, normalizeAttemptError } from "./failure.js";
import { DEFAULT_MAX_ATTEMPTS, shouldRetry } from "./retry.js";

/** Built once by the router and shared by every call. */
export interface PipelineDeps {
  clock: Clock;
  balancer: Balancer;
  breakers: BreakerSet;
  bulkheads: BulkheadSet;
  stats: NodeStats;
}

export interface PipelineOptions {
  clock: Clock;
  random: Random;
  /** Default "least-latency". */
  balancer?: BalancerName;
  breaker?: BreakerOptions;
  bulkhead?: BulkheadOptions;
  stats?: NodeStatsOptions;
}

/** Everything a router needs, wired with one shared NodeStats (also for metrics). */
export function createPipelineDeps(options: PipelineOptions): PipelineDeps {
  const { clock, random } = options;
  const stats = new NodeStats(clock, options.stats);
  return {
    clock,
    stats,
    balancer: createBalancer(options.balancer ?? DEFAULT_BALANCER, { random, stats }),
    breakers: new BreakerSet(clock, options.breaker),
    bulkheads: new BulkheadSet(clock, options.bulkhead),
  };
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
  /** The method is safe to run twice (CONTRACT §6, `idempotent`). */
  idempotent: boolean;
  /** Attempts, the first included; default DEFAULT_MAX_ATTEMPTS. */
  maxAttempts?: number;
  /** Cap of one attempt (ms); default: whatever is left of the deadline. */
  attemptTimeoutMs?: number;
  /**
   * The attempt itself rejects with TIMEOUT once `remainingMs` has passed (the peer link does),
   * so the pipeline need not arm a second timer for it.
   */
  attemptEnforcesDeadline?: boolean;
  /** Send the call to `nodeId` with `remainingMs` of budget; resolve with its result. */
  attempt: (nodeId: string, remainingMs: number) => Promise<T>;
}

export async function callWithResilience<T>(deps: PipelineDeps, call: ResilientCall<T>): Promise<T> {
  const { stats, breakers, bulkheads } = deps;
  const deadline = call.deadline;
  const maxAttempts = call.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
  const state: CallState = { tried: undefined, skipped: undefined, lastError: undefined };

  for (let attempts = 0; attempts < maxAttempts; attempts++) {
    if (deadline.expired()) throw deadline.timeoutError(failureData(state));
    const nodeId = pickAllowed(deps, call, state);
    if (nodeId === undefined) break;
    (state.tried ??= []).push(nodeId);

    const token = stats.start(nodeId);
    const head = bulkheads.get(nodeId);
    let holdsSlot = false;
    try {
      const wait = head.enter(deadline);
      if (wait !== undefined) await wait;
      holdsSlot = true;
      const result = await runAttempt(deps.clock, call, nodeId);
      head.leave();
      holdsSlot = false;
      token.done(true);
      breakers.onSuccess(nodeId);
      return result;
    } catch (raw) {
      if (holdsSlot) head.leave();
      const err = normalizeAttemptError(raw, nodeId);
      if (isLocalRejection(err)) token.abandon();
      else token.done(!isNodeFault(err));
      breakers.onFailure(nodeId, err);
      if (!shouldRetry(err, call.idempotent)) {
        // The caller's deadline: say which nodes it was spent on.
        if (err.code === "TIMEOUT" && deadline.expired()) throw deadline.timeoutError(failureData(state));
        throw err;
      }
      state.lastError = err;
    }
  }
  if (deadline.expired()) throw deadline.timeoutError(failureData(state));
  throw new P2PError(
    "UNAVAILABLE",
    `no healthy node can take the call to ${call.service}.${call.method}`,
    failureData(state, "no_healthy_node"),
  );
}

/** What one call has been through so far; lists allocated only when needed. */
interface CallState {
  tried: string[] | undefined;
  /** Nodes stepped over because their breaker refused. */
  skipped: string[] | undefined;
  lastError: P2PError | undefined;
}

function runAttempt<T>(clock: Clock, call: ResilientCall<T>, nodeId: string): Promise<T> {
  const deadline = call.deadline;
  let remaining = deadline.remaining();
  let limit = deadline;
  if (call.attemptTimeoutMs !== undefined && call.attemptTimeoutMs < remaining) {
    // A per-attempt TIMEOUT carries no "deadline_exceeded": retry.ts may retry it.
    remaining = call.attemptTimeoutMs;
    limit = Deadline.after(remaining, clock);
    return withDeadline(invoke(call, nodeId, remaining), limit, clock).catch((err: unknown) => {
      throw err instanceof P2PError && err.code === "TIMEOUT" && !deadline.expired()
        ? new P2PError("TIMEOUT", `attempt on ${nodeId} timed out after ${remaining} ms`, {
            reason: "attempt_timeout",
            node: nodeId,
          })
        : err;
    });
  }
  if (call.attemptEnforcesDeadline) return invoke(call, nodeId, remaining);
  return withDeadline(invoke(call, nodeId, remaining), limit, clock);
}

/** The attempt, with a synchronous throw turned into a rejection. */
function invoke<T>(call: ResilientCall<T>, nodeId: string, remainingMs: number): Promise<T> {
  try {
    return call.attempt(nodeId, remainingMs);
  } catch (err) {
    return Promise.reject(err);
  }
}

/** Balancer pick among the eligible candidates whose breaker lets the call through. */
function pickAllowed<T>(deps: PipelineDeps, call: ResilientCall<T>, state: CallState): string | undefined {
  let pool = eligible(call.candidates, call.exclude, state);
  for (;;) {
    const candidate = deps.balancer.pick(pool, call);
    if (candidate === undefined) return undefined;
    if (deps.breakers.allow(candidate.nodeId)) return candidate.nodeId;
    (state.skipped ??= []).push(candidate.nodeId);
    pool = pool.filter((c) => c !== candidate);
  }
}

/** The candidates left; the common first pick (nothing excluded) allocates nothing. */
function eligible(
  candidates: readonly Candidate[],
  exclude: ReadonlySet<string> | undefined,
  state: CallState,
): readonly Candidate[] {
  const { tried, skipped } = state;
  if ((exclude === undefined || exclude.size === 0) && tried === undefined && skipped === undefined) {
    return candidates;
  }
  return candidates.filter(
    (c) => !exclude?.has(c.nodeId) && !tried?.includes(c.nodeId) && !skipped?.includes(c.nodeId),
  );
}

function failureData(state: CallState, reason?: string): Record<string, unknown> {
  const data: Record<string, unknown> = {};
  if (reason !== undefined) data.reason = reason;
  data.tried = state.tried ?? [];
  if (state.skipped !== undefined) data.skipped = state.skipped;
  if (state.lastError !== undefined) data.last_error = state.lastError.toJSON() satisfies WireError;
  return data;
}
