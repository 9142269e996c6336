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
  const now = clock.now();
  let deadline = parent ? parent.deadline : now + defaultTimeoutMs;
  if (options.timeoutMs !== undefined) deadline = Math.min(deadline, now + options.timeoutMs);
  const cancel = parent?.cancel;
  return {
    caller: { sub: parent?.caller.sub ?? `service:${serviceName}`, role: "service" },
    deadline,
    traceId: parent?.traceId ?? newTraceId(),
    ...(options.balancer ? { balancer: options.balancer } : {}),
    ...(cancel ? { cancel } : {}),
  };
}

/** `this.proxy.<service>.<method>(params?, options?)`: a thin face on router.call. */
export function createProxy(router: Router, clock: Clock, serviceName: string, defaultTimeoutMs: number): {
  proxy: ClusterProxy;
  proxyFor(service: string, options?: CallOptions): UntypedServiceProxy;
} {
  const methodFn = (service: string, method: string, bound?: CallOptions): RemoteMethod => {
    const call = async (params: unknown = {}, options: CallOptions = {}): Promise<unknown> => {
      if (params === null || typeof params !== "object" || Array.isArray(params)) {
        throw new P2PError("INVALID_PARAMS", "params must be an object");
      }
      const merged = { ...bound, ...options };
      const ctx = outgoingContext(clock, serviceName, defaultTimeoutMs, merged);
      const out = await router.call(ctx, service, method, params as Record<string, unknown>, merged.node ? { node: merged.node } : {});
      return out.result;
    };
    return call as RemoteMethod;
  };

  const serviceProxy = (service: string, bound?: CallOptions): UntypedServiceProxy =>
    new Proxy({} as UntypedServiceProxy, {
      get: (_target, method) => (typeof method === "string" && method !== "then" ? methodFn(service, method, bound) : undefined),
    });

  const proxy = new Proxy({} as ClusterProxy, {
    get: (_target, service) => (typeof service === "string" && service !== "then" ? serviceProxy(service) : undefined),
  });
  return { proxy, proxyFor: serviceProxy };
}
