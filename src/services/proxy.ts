import { P2PError } from "../errors.js";
import type { Router } from "../rpc/router.js";
import { currentCall, newTraceId, type CallContext } from "../rpc/context.js";
import type { Clock } from "../util/clock.js";
import type { CallOptions, ClusterProxy, RemoteMethod } from "./proxy-types.js";

/**
 * `this.proxy.<service>.<method>(params, options?)`: a thin face on router.call. A call made while
 * a method runs inherits its deadline, trace id and original caller (as role "service", which may
 * call non-public methods); a call from initialize() or a timer starts a fresh context.
 */
export function createProxy(router: Router, clock: Clock, serviceName: string, defaultTimeoutMs: number): {
  proxy: ClusterProxy;
  proxyFor(service: string, options?: CallOptions): Record<string, RemoteMethod>;
} {
  const methodFn = (service: string, method: string, bound?: CallOptions): RemoteMethod => {
    return async (params = {}, options = {}) => {
      if (params === null || typeof params !== "object" || Array.isArray(params)) {
        throw new P2PError("INVALID_PARAMS", "params must be an object");
      }
      const merged = { ...bound, ...options };
      const parent = currentCall.getStore();
      const now = clock.now();
      let deadline = parent ? parent.deadline : now + defaultTimeoutMs;
      if (merged.timeoutMs !== undefined) deadline = Math.min(deadline, now + merged.timeoutMs);
      const ctx: CallContext = {
        caller: { sub: parent?.caller.sub ?? `service:${serviceName}`, role: "service" },
        deadline,
        traceId: parent?.traceId ?? newTraceId(),
        ...(merged.balancer ? { balancer: merged.balancer } : {}),
      };
      const out = await router.call(ctx, service, method, params as Record<string, unknown>, merged.node ? { node: merged.node } : {});
      return out.result;
    };
  };

  const serviceProxy = (service: string, bound?: CallOptions): Record<string, RemoteMethod> =>
    new Proxy({} as Record<string, RemoteMethod>, {
      get: (_target, method) => (typeof method === "string" && method !== "then" ? methodFn(service, method, bound) : undefined),
    });

  const proxy = new Proxy({} as ClusterProxy, {
    get: (_target, service) => (typeof service === "string" && service !== "then" ? serviceProxy(service) : undefined),
  });
  return { proxy, proxyFor: serviceProxy };
}
