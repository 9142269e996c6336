import { P2PError, toP2PError } from "../errors.js";
import type { Clock } from "../util/clock.js";
import type { ClusterRegistry } from "../cluster/registry.js";
import type { MemberView, MethodMeta } from "../cluster/types.js";
import type { LocalServices } from "../services/local-services.js";
import type { MethodCells, NodeMetrics } from "../metrics/metrics.js";
import type { Timer } from "../util/clock.js";
import type { LocalMethod } from "../services/local-services.js";
import { currentCall, type CallContext } from "./context.js";
import { Deadline, timerAt, withDeadline } from "./deadline.js";
import { abandonWhen, callerGone, CallScope } from "./call-scope.js";
import { LINGER_MS, type LocalLimiter } from "./local-limiter.js";
import type { Cancellation } from "./cancellation.js";

export interface CallOptions {
  /** Run on this node only (`?node=`). */
  node?: string;
}

export interface CallResult {
  result: unknown;
  /** The node that ran the method. */
  nodeId: string;
}

/** Sends a call to other nodes (the distributed part); absent on a node that routes locally only. */
export interface RemoteCaller {
  call(
    hosts: MemberView[],
    ctx: CallContext,
    service: string,
    method: string,
    params: Record<string, unknown>,
    meta: MethodMeta,
  ): Promise<CallResult>;
}

/** Caches method results of methods with a `cache` option: where a call enters and where it runs. */
export interface MethodResultCache {
  getOrLoad(service: string, method: string, params: Record<string, unknown>, policy: { ttl_s: number; tags?: readonly string[] }, load: () => Promise<CallResult>): Promise<CallResult>;
}

export interface RouterDeps {
  localId: string;
  local: LocalServices;
  registry: ClusterRegistry;
  clock: Clock;
  metrics: NodeMetrics;
  remote?: RemoteCaller;
  cache?: MethodResultCache;
  /** True once the node shuts down: new calls go to other hosts of the service, not here. */
  isDraining?: () => boolean;
  /** Bounds the methods this node runs at once (absent: unbounded). */
  localLimiter?: LocalLimiter;
}

const UNKNOWN = "<unknown>";

/**
 * A method as a caller names it, resolved once: its execution-slot key and, after the first
 * call, its metric cells. Service proxies keep one per method (Router.ref).
 */
export class MethodRef {
  /** The local limiter's key. */
  readonly slot: string;
  /** @internal Set on first use. */
  cells: MethodCells | null = null;

  constructor(
    readonly service: string,
    readonly method: string,
  ) {
    this.slot = `${service}.${method}`;
  }
}

/** Refs kept per router: enough for every method a node's services name, bounded against odd callers. */
const MAX_REFS = 10_000;

/**
 * Every call enters here: /rpc, the peer link and service proxies. Order: resolve the method
 * (404s) → check the caller may call it (403) → cache → local node if it hosts the service,
 * else the remote caller (balancing, breaker, retries) → errors mapped to the catalog.
 */
export class Router {
  private readonly refs = new Map<string, Map<string, MethodRef>>();
  private refCount = 0;

  constructor(private readonly deps: RouterDeps) {}

  /** The ref of `service.method`: the same object for the same names (up to MAX_REFS of them). */
  ref(service: string, method: string): MethodRef {
    let byMethod = this.refs.get(service);
    let ref = byMethod?.get(method);
    if (ref) return ref;
    ref = new MethodRef(service, method);
    if (this.refCount < MAX_REFS) {
      if (!byMethod) this.refs.set(service, (byMethod = new Map()));
      byMethod.set(method, ref);
      this.refCount++;
    }
    return ref;
  }

  /**
   * call() answering the result alone (service proxies). A call this node runs itself, with
   * nothing on the way that could refuse or defer it, takes the local path: one promise from
   * here to the method's answer, the method's metric cells resolved once. Anything else, and
   * every refusal, goes through call(), so answers and metrics are exactly call()'s.
   */
  callResult(ctx: CallContext, ref: MethodRef, params: Record<string, unknown>, node?: string): Promise<unknown> {
    if (node === undefined) {
      const local = this.tryLocal(ctx, ref, params);
      if (local !== null) return local;
    }
    return this.call(ctx, ref.service, ref.method, params, node === undefined ? {} : { node }).then(resultOf);
  }

  /**
   * The local path alone, for the HTTP route (which names the node that answered): the answer
   * of a call this node runs itself, or null when call() must take it (nothing done then).
   */
  callLocal(ctx: CallContext, ref: MethodRef, params: Record<string, unknown>): Promise<unknown> | null {
    return this.tryLocal(ctx, ref, params);
  }

  setRemote(remote: RemoteCaller): void {
    this.deps.remote = remote;
  }

  setCache(cache: MethodResultCache): void {
    this.deps.cache = cache;
  }

  async call(ctx: CallContext, service: string, method: string, params: Record<string, unknown>, options: CallOptions = {}): Promise<CallResult> {
    const started = this.deps.clock.now();
    let labels: [string, string] = [UNKNOWN, UNKNOWN];
    try {
      const meta = this.resolve(service, method, options.node);
      labels = [service, method];
      if (!meta.public && ctx.caller.role === "client") {
        throw new P2PError("FORBIDDEN", `method ${service}.${method} is not public`);
      }
      const run = () => this.route(ctx, service, method, params, meta, options.node);
      // A cached call may wait on another caller's load: it waits no longer than its own deadline.
      const out = meta.cache && this.deps.cache && options.node === undefined
        ? await withDeadline(this.deps.cache.getOrLoad(service, method, params, meta.cache, run), Deadline.after(ctx.deadline - this.deps.clock.now(), this.deps.clock), this.deps.clock)
        : await run();
      this.deps.metrics.rpc(service, method, "OK", (this.deps.clock.now() - started) / 1000);
      return out;
    } catch (err) {
      const error = toP2PError(err);
      this.deps.metrics.rpc(labels[0], labels[1], error.code, (this.deps.clock.now() - started) / 1000);
      throw error;
    }
  }

  /**
   * A call another node routed here: a cached method answers from this node's cache when it
   * holds a fresh entry (and fills it otherwise), so entries are shared where the method runs.
   */
  async serveRemote(ctx: CallContext, service: string, method: string, params: Record<string, unknown>): Promise<unknown> {
    const policy = this.deps.local.get(service)?.methods.get(method)?.descriptor.cache;
    if (!policy || !this.deps.cache) return this.invokeLocal(ctx, service, method, params);
    const out = await this.deps.cache.getOrLoad(service, method, params, policy, async () => ({
      result: await this.invokeLocal(ctx, service, method, params),
      nodeId: this.deps.localId,
    }));
    return out.result;
  }

  /** Runs a method hosted on this node: the target side of every call. */
  async invokeLocal(ctx: CallContext, service: string, method: string, params: Record<string, unknown>): Promise<unknown> {
    const svc = this.deps.local.get(service);
    if (!svc || svc.status !== "running") throw new P2PError("SERVICE_NOT_FOUND", `service "${service}" does not run on ${this.deps.localId}`);
    const m = svc.methods.get(method);
    if (!m) throw new P2PError("METHOD_NOT_FOUND", `method "${method}" not found in service "${service}"`);
    if (!m.descriptor.public && ctx.caller.role === "client") {
      throw new P2PError("FORBIDDEN", `method ${service}.${method} is not public`);
    }
    if (m.validate) {
      const issues = m.validate(params);
      if (issues) throw new P2PError("INVALID_PARAMS", `params do not match the schema of ${service}.${method}`, { issues });
    }
    const remaining = ctx.deadline - this.deps.clock.now();
    if (remaining <= 0) throw new P2PError("TIMEOUT", "deadline passed before the call started");
    const deadline = Deadline.after(remaining, this.deps.clock);
    // Takes (or waits for, or is refused) a slot before anything runs; held until the method settles.
    const limiter = this.deps.localLimiter;
    const slot = `${service}.${method}`;
    const release = limiter ? (limiter.tryAcquire(slot, deadline) ?? (await limiter.acquire(slot, deadline))) : undefined;
    const scope = new CallScope(ctx, this.deps.clock);
    try {
      let work = currentCall.run(scope.context, () => invokeMethod(m.invoke, params));
      if (release) work.then(release, release);
      if (ctx.cancel) work = abandonWhen(work, ctx.cancel, callerGone);
      const result = await withDeadline(work, deadline, this.deps.clock);
      this.deps.metrics.executed(service, method, "OK");
      scope.end();
      return result;
    } catch (err) {
      const error = answeredError(err);
      this.deps.metrics.executed(service, method, error.code);
      // Past the deadline or abandoned by its caller: this.call.signal fires, so slow work stops.
      scope.end(error.code === "TIMEOUT" || ctx.cancel?.cancelled ? error : undefined);
      throw error;
    }
  }

  /**
   * The local path of callResult, or null (nothing done, nothing counted) when the call needs
   * call(): not hosted or not running here, draining, a method cache in between, a client
   * role and a method that is not public, invalid params, no budget left, the caller gone, or
   * no free execution slot now.
   * What it does then is what call() → route() → invokeLocal() do, in the same order.
   */
  private tryLocal(ctx: CallContext, ref: MethodRef, params: Record<string, unknown>): Promise<unknown> | null {
    const { deps } = this;
    const svc = deps.local.get(ref.service);
    if (svc === undefined || svc.status !== "running") return null;
    const m = svc.methods.get(ref.method);
    if (m === undefined) return null;
    const meta = deps.registry.method(ref.service, ref.method);
    if (meta === undefined || (meta.cache !== undefined && deps.cache !== undefined)) return null;
    // A client may call a public method (call() refuses the others with FORBIDDEN).
    if ((ctx.caller.role === "client" && !(meta.public && m.descriptor.public)) || ctx.cancel?.cancelled || deps.isDraining?.()) return null;
    const { clock } = deps;
    const started = clock.now();
    let now = started;
    if (m.validate) {
      if (m.validate(params)) return null;
      now = clock.now();
    }
    const remaining = ctx.deadline - now;
    if (remaining <= 0) return null;
    const deadline = Deadline.after(remaining, clock, now);
    const limiter = deps.localLimiter;
    // Uncapped: LocalRun releases the slot LINGER_MS after the deadline itself, from its deadline timer.
    const release = limiter ? limiter.tryAcquire(ref.slot, deadline, false) : undefined;
    if (release === null) return null;
    return new LocalRun(this.deps, ref, started, deadline, release).start(ctx, m, params);
  }

  private resolve(service: string, method: string, node: string | undefined): MethodMeta {
    const { registry } = this.deps;
    if (node !== undefined && !registry.member(node)) throw new P2PError("NODE_NOT_FOUND", `node "${node}" is not a member of the cluster`);
    if (!registry.hasService(service)) throw new P2PError("SERVICE_NOT_FOUND", `service "${service}" not found`);
    const meta = registry.method(service, method);
    if (!meta) throw new P2PError("METHOD_NOT_FOUND", `method "${method}" not found in service "${service}"`);
    return meta;
  }

  private async route(ctx: CallContext, service: string, method: string, params: Record<string, unknown>, meta: MethodMeta, node: string | undefined): Promise<CallResult> {
    const { localId, registry } = this.deps;
    const localHosts = node === undefined || node === localId;
    // A draining node runs no new call itself; it forwards them to other hosts of the service.
    const draining = this.deps.isDraining?.() ?? false;
    const hostedHere = this.deps.local.get(service)?.methods.has(method) ?? false;
    if (localHosts && hostedHere && !draining) {
      return { result: await this.invokeLocal(ctx, service, method, params), nodeId: localId };
    }
    if (node === localId) {
      if (hostedHere) throw new P2PError("UNAVAILABLE", "node is draining", { reason: "draining" });
      throw new P2PError("SERVICE_NOT_FOUND", `service "${service}" does not run on ${localId}`);
    }
    if (node === undefined && this.deps.remote) {
      const alive = registry.aliveRemoteHosts(service);
      if (alive.length > 0) return this.deps.remote.call(alive, ctx, service, method, params, meta);
    }
    let hosts = registry.hostsOf(service).filter((h) => h.nodeId !== localId);
    if (node !== undefined) {
      hosts = hosts.filter((h) => h.nodeId === node);
      if (hosts.length === 0) throw new P2PError("SERVICE_NOT_FOUND", `service "${service}" does not run on ${node}`);
    }
    // No alive host: a suspect one may only be slow to answer probes, so it is tried rather than refused.
    let healthy = hosts.filter((h) => h.state === "alive");
    if (healthy.length === 0) healthy = hosts.filter((h) => h.state === "suspect");
    if (healthy.length === 0 && draining && hostedHere) throw new P2PError("UNAVAILABLE", "node is draining and no other node hosts the service", { reason: "draining" });
    if (healthy.length === 0 || !this.deps.remote) {
      throw new P2PError("UNAVAILABLE", `no healthy node can take ${service}.${method}`, { hosts: hosts.map((h) => ({ node_id: h.nodeId, state: h.state })) });
    }
    return this.deps.remote.call(healthy, ctx, service, method, params, meta);
  }
}

function isThenable(value: unknown): boolean {
  return value !== null && (typeof value === "object" || typeof value === "function") && typeof (value as { then?: unknown }).then === "function";
}

function resultOf(out: CallResult): unknown {
  return out.result;
}

/**
 * One call on the local path: the method runs in its CallScope; its answer, its deadline (one
 * timer on the router's clock) or its caller going away settles the one promise the caller
 * holds, whichever comes first. The execution slot is held until the method itself settles, or
 * LINGER_MS past the deadline (armed by the deadline timer, so a call that answers in time
 * arms one timer, not two), as the limiter's own cap does for invokeLocal.
 */
class LocalRun {
  /** The caller has its answer. */
  private settled = false;
  /** The method has settled (its slot is released). */
  private methodDone = false;
  private timer: Timer | null = null;
  private scope: CallScope | null = null;
  private resolve: ((value: unknown) => void) | null = null;
  private reject: ((err: unknown) => void) | null = null;
  private callerCancel: Cancellation | undefined;
  /** The answer, when it came before start() made the promise. */
  private value: unknown = undefined;
  private failure: P2PError | null = null;

  constructor(
    private readonly deps: RouterDeps,
    private readonly ref: MethodRef,
    private readonly started: number,
    private readonly deadline: Deadline,
    private readonly release: (() => void) | undefined,
  ) {}

  start(ctx: CallContext, m: LocalMethod, params: Record<string, unknown>): Promise<unknown> {
    this.callerCancel = ctx.cancel;
    const scope = new CallScope(ctx, this.deps.clock, ctx.cancel ? (error) => this.fail(error) : undefined);
    this.scope = scope;
    let value: unknown;
    let threw = false;
    try {
      value = currentCall.run(scope.context, m.invoke, params);
    } catch (err) {
      threw = true;
      value = err;
    }
    // A method that ran past the deadline before returning answers TIMEOUT, whatever it returned.
    const late = !(this.deadline.at > this.deps.clock.now());
    if (threw || !(value instanceof Promise || isThenable(value))) {
      this.methodSettled();
      if (late) this.fail(this.deadline.timeoutError());
      else if (threw) this.fail(value);
      else this.succeed(value);
      return this.settledPromise();
    }
    // Another realm's promise or a thenable is adopted, as invokeLocal does.
    const work = value instanceof Promise ? value : Promise.resolve(value);
    const out = new Promise<unknown>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    work.then(
      (result) => {
        this.methodSettled();
        this.succeed(result);
      },
      (err: unknown) => {
        this.methodSettled();
        this.fail(err);
      },
    );
    if (late) this.onDeadline();
    else this.timer = timerAt(this.deps.clock, () => this.onDeadline(), this.deadline.at);
    return out;
  }

  /** The deadline passed with the method still running: answer TIMEOUT, keep its slot LINGER_MS more. */
  private onDeadline(): void {
    this.timer = null;
    this.fail(this.deadline.timeoutError());
    if (this.release && !this.methodDone) this.timer = timerAt(this.deps.clock, () => this.methodSettled(), this.deadline.at + LINGER_MS);
  }

  /** The method settled (or its slot's time is up): the slot and the timers go. */
  private methodSettled(): void {
    if (this.methodDone) return;
    this.methodDone = true;
    this.timer?.cancel();
    this.timer = null;
    this.release?.();
  }

  /** The promise of a run that settled before start() made one. */
  private settledPromise(): Promise<unknown> {
    return this.failure ? Promise.reject(this.failure) : Promise.resolve(this.value);
  }

  private succeed(result: unknown): void {
    if (this.settled) return;
    this.settled = true;
    const { metrics, clock } = this.deps;
    const cells = (this.ref.cells ??= metrics.methodCells(this.ref.service, this.ref.method));
    metrics.executedOf(cells, "OK");
    this.scope!.end();
    metrics.rpcOf(cells, "OK", (clock.now() - this.started) / 1000);
    this.value = result;
    this.resolve?.(result);
  }

  private fail(err: unknown): void {
    if (this.settled) return;
    this.settled = true;
    const { metrics, clock } = this.deps;
    const error = answeredError(err);
    const cells = (this.ref.cells ??= metrics.methodCells(this.ref.service, this.ref.method));
    metrics.executedOf(cells, error.code);
    // Past the deadline or abandoned by its caller: this.call.signal fires, so slow work stops.
    this.scope!.end(error.code === "TIMEOUT" || this.callerCancel?.cancelled ? error : undefined);
    metrics.rpcOf(cells, error.code, (clock.now() - this.started) / 1000);
    this.failure = error;
    this.reject?.(error);
  }
}

/**
 * An error the method answered with ran on this node: strip any transport `reason` a nested
 * call put there, so no caller mistakes it for "not sent" and retries a call that did run.
 */
function answeredError(err: unknown): P2PError {
  const error = toP2PError(err);
  const data = error.data;
  if (data && typeof data === "object" && "reason" in data) {
    const { reason, ...rest } = data as Record<string, unknown>;
    return new P2PError(error.code, error.message, { ...rest, nested_reason: reason });
  }
  return error;
}

/** The method's result as a promise; a synchronous throw becomes a rejection. */
function invokeMethod(invoke: (params: Record<string, unknown>) => unknown, params: Record<string, unknown>): Promise<unknown> {
  try {
    return Promise.resolve(invoke(params));
  } catch (err) {
    return Promise.reject(err);
  }
}
