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
import { CallScope } from "./call-scope.js";
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
  readonly remote?: RemoteCaller;
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
   * call() answering the result alone (service proxies). A call this node runs itself (what
   * route() would decide) goes straight to invokeLocal: one promise from here to the method's
   * answer, the method's metric cells resolved once. Anything else goes through call().
   */
  callResult(ctx: CallContext, ref: MethodRef, params: Record<string, unknown>, node?: string): Promise<unknown> {
    if (node === undefined) {
      const local = this.callLocal(ctx, ref, params);
      if (local !== null) return local;
    }
    return this.call(ctx, ref.service, ref.method, params, node === undefined ? {} : { node }).then(resultOf);
  }

  /**
   * The local path alone, for the HTTP route (which names the node that answered): the answer
   * of a call this node runs itself, counted as call() counts it, or null when call() must
   * route it (nothing done then).
   */
  callLocal(ctx: CallContext, ref: MethodRef, params: Record<string, unknown>): Promise<unknown> | null {
    const started = this.deps.clock.now();
    return this.runsHere(ctx, ref) ? this.invokeLocal(ctx, ref, params, started) : null;
  }

  /** The node's cache, created (asynchronously) when the node starts, after the router. */
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
  serveRemote(ctx: CallContext, service: string, method: string, params: Record<string, unknown>): Promise<unknown> {
    const ref = this.ref(service, method);
    const { cache } = this.deps;
    const policy = cache === undefined ? undefined : this.deps.local.get(service)?.methods.get(method)?.descriptor.cache;
    if (policy === undefined || cache === undefined) return this.invokeLocal(ctx, ref, params, undefined);
    const load = (): Promise<CallResult> => this.invokeLocal(ctx, ref, params, undefined).then((result) => ({ result, nodeId: this.deps.localId }));
    return cache.getOrLoad(service, method, params, policy, load).then(resultOf);
  }

  /**
   * Whether call() would run this call here, through nothing but invokeLocal: hosted here, the
   * cluster knows the method, no method cache in between, a client calls only what the cluster
   * publishes as public (call() refuses the rest), and the node is not draining.
   */
  private runsHere(ctx: CallContext, ref: MethodRef): boolean {
    const { deps } = this;
    if (deps.local.get(ref.service)?.methods.has(ref.method) !== true) return false;
    const meta = deps.registry.method(ref.service, ref.method);
    if (meta === undefined || (meta.cache !== undefined && deps.cache !== undefined)) return false;
    if (ctx.caller.role === "client" && !meta.public) return false;
    return !(deps.isDraining?.() ?? false);
  }

  /**
   * Runs a method hosted on this node: the target side of every call (route(), the link, the
   * local path). Refuses (not running here, unknown method, not public for a client, invalid
   * params, no budget left, no execution slot) before anything runs; otherwise takes a slot now
   * or waits for one within the deadline, and runs the method as one LocalRun.
   * `rpcStarted`: when the call entered the router here (callLocal), so the run counts it as
   * call() would; undefined when call() or no one counts it (the link counts executions only).
   */
  private invokeLocal(ctx: CallContext, ref: MethodRef, params: Record<string, unknown>, rpcStarted: number | undefined): Promise<unknown> {
    const { deps } = this;
    const svc = deps.local.get(ref.service);
    if (svc === undefined || svc.status !== "running") return this.refuse(ref, rpcStarted, new P2PError("SERVICE_NOT_FOUND", `service "${ref.service}" does not run on ${deps.localId}`));
    const m = svc.methods.get(ref.method);
    if (m === undefined) return this.refuse(ref, rpcStarted, new P2PError("METHOD_NOT_FOUND", `method "${ref.method}" not found in service "${ref.service}"`));
    if (!m.descriptor.public && ctx.caller.role === "client") {
      return this.refuse(ref, rpcStarted, new P2PError("FORBIDDEN", `method ${ref.service}.${ref.method} is not public`));
    }
    if (m.validate) {
      const issues = m.validate(params);
      if (issues) return this.refuse(ref, rpcStarted, new P2PError("INVALID_PARAMS", `params do not match the schema of ${ref.service}.${ref.method}`, { issues }));
    }
    const { clock } = deps;
    const now = clock.now();
    const remaining = ctx.deadline - now;
    if (remaining <= 0) return this.refuse(ref, rpcStarted, new P2PError("TIMEOUT", "deadline passed before the call started"));
    const deadline = Deadline.after(remaining, clock, now);
    const limiter = deps.localLimiter;
    // Uncapped: the run releases the slot LINGER_MS after the deadline itself, from its deadline timer.
    const release = limiter ? limiter.tryAcquire(ref.slot, deadline, false) : undefined;
    if (release !== null) return new LocalRun(deps, ref, rpcStarted, deadline, release).start(ctx, m, params);
    // No slot now: wait for one (or be refused) within the deadline; the method runs once granted.
    return limiter!.acquire(ref.slot, deadline, false).then(
      (granted) => new LocalRun(deps, ref, rpcStarted, deadline, granted).start(ctx, m, params),
      (err: unknown) => this.refuse(ref, rpcStarted, toP2PError(err)),
    );
  }

  /** A call refused before its method ran: counted as call() counts it (no execution), rejected. */
  private refuse(ref: MethodRef, rpcStarted: number | undefined, error: P2PError): Promise<never> {
    if (rpcStarted !== undefined) {
      const { metrics, clock } = this.deps;
      metrics.rpcOf((ref.cells ??= metrics.methodCells(ref.service, ref.method)), error.code, (clock.now() - rpcStarted) / 1000);
    }
    return Promise.reject(error);
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
      return { result: await this.invokeLocal(ctx, this.ref(service, method), params, undefined), nodeId: localId };
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
 * One execution of a method on this node: the method runs in its CallScope; its answer, its
 * deadline (one timer on the router's clock) or its caller going away (one listener on the
 * caller's Cancellation) settles the one promise the caller holds, whichever comes first. The
 * execution slot is held until the method itself settles, or LINGER_MS past the deadline (armed
 * by the deadline timer, so a call that answers in time arms one timer, not two).
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
    /** When the call entered the router, if this run counts it in the rpc metrics (as call() would). */
    private readonly rpcStarted: number | undefined,
    private readonly deadline: Deadline,
    private readonly release: (() => void) | undefined,
  ) {}

  start(ctx: CallContext, m: LocalMethod, params: Record<string, unknown>): Promise<unknown> {
    this.callerCancel = ctx.cancel;
    // A caller already gone fails the run here, inside the constructor; the method still runs.
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
    // Another realm's promise or a thenable is adopted.
    const work = value instanceof Promise ? value : Promise.resolve(value);
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
    if (this.settled) return this.settledPromise();
    return new Promise<unknown>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
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
    if (this.rpcStarted !== undefined) metrics.rpcOf(cells, "OK", (clock.now() - this.rpcStarted) / 1000);
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
    // (No scope yet: the caller was gone before the run began, and the scope ended itself.)
    this.scope?.end(error.code === "TIMEOUT" || this.callerCancel?.cancelled ? error : undefined);
    if (this.rpcStarted !== undefined) metrics.rpcOf(cells, error.code, (clock.now() - this.rpcStarted) / 1000);
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
