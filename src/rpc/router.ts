import { P2PError, toP2PError } from "../errors.js";
import type { Clock } from "../util/clock.js";
import type { ClusterRegistry } from "../cluster/registry.js";
import type { MemberView, MethodMeta } from "../cluster/types.js";
import type { LocalServices } from "../services/local-services.js";
import type { NodeMetrics } from "../metrics/metrics.js";
import { currentCall, type CallContext } from "./context.js";
import { Deadline, withDeadline } from "./deadline.js";
import { abandonWhen, callerGone, CallScope } from "./call-scope.js";
import type { LocalLimiter } from "./local-limiter.js";

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
 * Every call enters here: /rpc, the peer link and service proxies. Order: resolve the method
 * (404s) → check the caller may call it (403) → cache → local node if it hosts the service,
 * else the remote caller (balancing, breaker, retries) → errors mapped to the catalog.
 */
export class Router {
  constructor(private readonly deps: RouterDeps) {}

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
