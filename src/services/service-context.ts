import type { Router } from "../rpc/router.js";
import type { ClusterRegistry } from "../cluster/registry.js";
import { currentCall } from "../rpc/context.js";
import { broadcastCall } from "../rpc/broadcast.js";
import type { Clock } from "../util/clock.js";
import type { ServiceCacheApi } from "./service-cache-api.js";
import type { ServiceContext, ServiceInfo, ServiceLogger } from "./base-service.js";
import { createClusterView } from "./cluster-view.js";
import { createProxy, outgoingContext } from "./proxy.js";

export interface ServiceContextDeps {
  nodeId: string;
  router: Router;
  registry: ClusterRegistry;
  clock: Clock;
  loggerFor(service: string): ServiceLogger;
  cacheFor(service: string): ServiceCacheApi;
  /** Deadline of calls a service starts outside a method (from initialize() or a timer). */
  defaultTimeoutMs: number;
}

/** Everything `this` offers a service, wired to one node (or one test bed). */
export function createServiceContext(deps: ServiceContextDeps, info: ServiceInfo): ServiceContext {
  const { proxy, proxyFor } = createProxy(deps.router, deps.clock, info.name, deps.defaultTimeoutMs);
  return {
    nodeId: deps.nodeId,
    logger: deps.loggerFor(info.name),
    cache: deps.cacheFor(info.name),
    info,
    proxy,
    proxyFor,
    cluster: createClusterView(deps.registry),
    phase: "initializing",
    currentCall: () => currentCall.getStore()?.scope,
    broadcast: (service, method, params = {}) =>
      broadcastCall(deps.router, deps.registry, outgoingContext(deps.clock, info.name, deps.defaultTimeoutMs), service, method, params),
  };
}
