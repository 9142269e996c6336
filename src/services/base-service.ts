import { SERVICE_BRAND } from "./method-options.js";
import type { ServiceProxy, ClusterProxy, TypedClusterProxy, CallOptions } from "./proxy-types.js";
import type { ServiceCacheApi } from "./service-cache-api.js";

export interface ServiceLogger {
  debug(obj: object | string, msg?: string): void;
  info(obj: object | string, msg?: string): void;
  warn(obj: object | string, msg?: string): void;
  error(obj: object | string, msg?: string): void;
}

export interface ServiceInfo {
  name: string;
  version: string;
  description: string;
}

/** What the node hands a service when it loads it. */
export interface ServiceContext {
  nodeId: string;
  logger: ServiceLogger;
  cache: ServiceCacheApi;
  info: ServiceInfo;
  proxy: ClusterProxy;
  proxyFor(service: string, options?: CallOptions): ClusterProxy[string];
}

const ATTACH = Symbol.for("p2p-core.attachContext");

/**
 * Base class of every service. Subclasses add methods decorated with @serviceMethod.
 * Everything a method needs from the node is on `this`: nodeId, logger, cache, info, proxy.
 */
export abstract class BaseService {
  static readonly [SERVICE_BRAND] = true;
  /** Name under which the service is registered; default: its folder's name. */
  static SERVICE_NAME?: string;
  static VERSION?: string;
  static DESCRIPTION?: string;
  /** How callers spread calls over this service's nodes: "least-latency" (default), "round-robin" or "random". */
  static BALANCER?: "round-robin" | "random" | "least-latency";

  private context?: ServiceContext;

  /** Called once after loading; a throw skips the service. */
  async initialize(): Promise<void> {}
  /** Called once on shutdown. */
  async cleanup(): Promise<void> {}

  get nodeId(): string {
    return this.ctx.nodeId;
  }
  get logger(): ServiceLogger {
    return this.ctx.logger;
  }
  get cache(): ServiceCacheApi {
    return this.ctx.cache;
  }
  get info(): ServiceInfo {
    return this.ctx.info;
  }
  /** `this.proxy.<service>.<method>(params, options?)` — a call routed through the cluster. */
  get proxy(): TypedClusterProxy {
    return this.ctx.proxy as TypedClusterProxy;
  }

  /** A proxy typed by the target service's class: `this.proxyFor<Other>("other").method(p)`. */
  proxyFor<S extends BaseService>(service: string, options?: CallOptions): ServiceProxy<S> {
    return this.ctx.proxyFor(service, options) as unknown as ServiceProxy<S>;
  }

  [ATTACH](context: ServiceContext): void {
    this.context = context;
  }

  private get ctx(): ServiceContext {
    if (!this.context) throw new Error("service used before the node attached it");
    return this.context;
  }
}

export function attachContext(service: BaseService, context: ServiceContext): void {
  (service as unknown as Record<symbol, (c: ServiceContext) => void>)[ATTACH]!(context);
}

export function isServiceClass(value: unknown): value is new () => BaseService {
  return typeof value === "function" && (value as unknown as Record<symbol, unknown>)[SERVICE_BRAND] === true;
}
