import { P2PError } from "../errors.js";
import type { Router } from "../rpc/router.js";
import { currentCall, newTraceId, type CallContext } from "../rpc/context.js";
import type { Clock } from "../util/clock.js";
import type { CallOptions, ClusterProxy, RemoteMethod, UntypedServiceProxy } from "./proxy-types.js";

/**
 * The context of a call a service makes. Made while a method runs, it inherits that call's
 * deadline, trace id, original caller (as role "service", which may call non-public methods)
 * and cancellation; made from initialize() or a timer, it starts fresh.
 */
export function outgoingContext(clock: Clock, serviceName: string, defaultTimeoutMs: number, options: CallOptions = {}): CallContext {
  const parent = currentCall.getStore();
  // Built field by field (no spreads), and the clock read only when a deadline is computed here.
  let deadline: number;
  if (parent) {
    deadline = parent.deadline;
    if (options.timeoutMs !== undefined) deadline = Math.min(deadline, clock.now() + options.timeoutMs);
  } else {
    const now = clock.now();
    deadline = now + defaultTimeoutMs;
    if (options.timeoutMs !== undefined) deadline = Math.min(deadline, now + options.timeoutMs);
  }
  const ctx: CallContext = {
    caller: { sub: parent?.caller.sub ?? `service:${serviceName}`, role: "service" },
    deadline,
    traceId: parent?.traceId ?? newTraceId(),
  };
  if (options.balancer) ctx.balancer = options.balancer;
  const cancel = parent?.cancel;
  if (cancel) ctx.cancel = cancel;
  return ctx;
}

/** Service proxies and method functions kept per name (unbound ones only), up to this many of each. */
const MAX_CACHED = 1_000;

/** `this.proxy.<service>.<method>(params?, options?)`: a thin face on router.callResult. */
export function createProxy(router: Router, clock: Clock, serviceName: string, defaultTimeoutMs: number): {
  proxy: ClusterProxy;
  proxyFor(service: string, options?: CallOptions): UntypedServiceProxy;
} {
  const methodFn = (service: string, method: string, bound?: CallOptions): RemoteMethod => {
    const ref = router.ref(service, method);
    const call = (params: unknown = {}, options?: CallOptions): Promise<unknown> => {
      if (params === null || typeof params !== "object" || Array.isArray(params)) {
        return Promise.reject(new P2PError("INVALID_PARAMS", "params must be an object"));
      }
      const merged = bound === undefined ? (options ?? NO_OPTIONS) : options === undefined ? bound : { ...bound, ...options };
      try {
        const ctx = outgoingContext(clock, serviceName, defaultTimeoutMs, merged);
        return router.callResult(ctx, ref, params as Record<string, unknown>, merged.node ? merged.node : undefined);
      } catch (err) {
        return Promise.reject(err);
      }
    };
    return call as RemoteMethod;
  };

  // `this.proxy.a.b(...)` builds no Proxy and no function per call: both are kept per name.
  const unbound = new Map<string, UntypedServiceProxy>();
  const serviceProxy = (service: string, bound?: CallOptions): UntypedServiceProxy => {
    const known = bound === undefined ? unbound.get(service) : undefined;
    if (known) return known;
    const methods = new Map<string, RemoteMethod>();
    const made = new Proxy({} as UntypedServiceProxy, {
      get: (_target, method) => {
        if (typeof method !== "string" || method === "then") return undefined;
        let fn = methods.get(method);
        if (!fn) {
          fn = methodFn(service, method, bound);
          if (methods.size < MAX_CACHED) methods.set(method, fn);
        }
        return fn;
      },
    });
    if (bound === undefined && unbound.size < MAX_CACHED) unbound.set(service, made);
    return made;
  };

  const proxy = new Proxy({} as ClusterProxy, {
    get: (_target, service) => (typeof service === "string" && service !== "then" ? serviceProxy(service) : undefined),
  });
  return { proxy, proxyFor: serviceProxy };
}

const NO_OPTIONS: CallOptions = Object.freeze({});
