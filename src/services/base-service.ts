import { SERVICE_BRAND } from "./method-options.js";
import type { ServiceProxy, ClusterProxy, TypedClusterProxy, CallOptions, UntypedServiceProxy } from "./proxy-types.js";
import type { ServiceCacheApi } from "./service-cache-api.js";
import type { ClusterView } from "./cluster-view.js";
import type { MethodCall } from "../rpc/call-scope.js";
import type { BroadcastResult } from "../rpc/broadcast.js";

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

/** Where a service instance is in its life; calls to other services wait until it is constructed. */
export type ServicePhase = "constructing" | "initializing" | "running" | "stopped";

/** What the node (or a test bed) hands a service when it creates it. */
export interface ServiceContext {
  nodeId: string;
  logger: ServiceLogger;
  cache: ServiceCacheApi;
  info: ServiceInfo;
  proxy: ClusterProxy;
  proxyFor(service: string, options?: CallOptions): UntypedServiceProxy;
  /** The method execution running now (AsyncLocalStorage), if any. */
  currentCall(): MethodCall | undefined;
  broadcast(service: string, method: string, params?: Record<string, unknown>): Promise<BroadcastResult>;
  cluster: ClusterView;
  phase: ServicePhase;
}

const ATTACH = Symbol.for("p2p-core.attachContext");
/** The context of the instance being constructed (a global symbol: the service may use another copy of p2p-core). */
const PENDING = Symbol.for("p2p-core.pendingContext");
type PendingHolder = { [PENDING]?: ServiceContext | undefined };

/**
 * Base class of every service. Subclasses add methods decorated with @serviceMethod.
 *
 * Lifecycle rules (enforced with a clear error):
 * - constructor and field initialisers: `nodeId`, `logger`, `info`, `cache` and `cluster` are
 *   ready; calling other services (`proxy`, `proxyFor`, `broadcast`) is not — do it in
 *   `initialize()` or in a method;
 * - `initialize()`: everything, though other services may not have started yet;
 * - `this.call` (signal, deadline, caller): inside a method only.
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

  constructor() {
    const holder = globalThis as PendingHolder;
    const pending = holder[PENDING];
    if (pending) {
      this.context = pending;
      holder[PENDING] = undefined;
    }
  }

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
  /** Read-only view of the cluster: members and where each service runs. */
  get cluster(): ClusterView {
    return this.ctx.cluster;
  }
  /** `this.proxy.<service>.<method>(params?, options?)`: a call routed through the cluster, typed by ServiceRegistry. */
  get proxy(): TypedClusterProxy {
    return this.callable("this.proxy").proxy as unknown as TypedClusterProxy;
  }

  /** The running call: `signal` (aborts when nobody waits any more), `deadline`, `caller`. Inside a method only. */
  get call(): MethodCall {
    const call = this.ctx.currentCall();
    if (!call) {
      throw new Error(`this.call is only available while a method of ${this.constructor.name} runs (not in a constructor, initialize(), cleanup() or a timer)`);
    }
    return call;
  }

  /**
   * A proxy of one service: typed by its class with `proxyFor<Inventory>("inventory")`, or
   * untyped with `proxyFor("inventory")`, where each call names its result: `.get<Stock>({ sku })`.
   */
  proxyFor(service: string, options?: CallOptions): UntypedServiceProxy;
  proxyFor<S extends BaseService>(service: string, options?: CallOptions): ServiceProxy<S>;
  proxyFor(service: string, options?: CallOptions): unknown {
    return this.callable("this.proxyFor()").proxyFor(service, options);
  }

  /** Calls `service.method` on every alive node hosting it; one entry per node, never a throw for a node's failure. */
  broadcast(service: string, method: string, params?: Record<string, unknown>): Promise<BroadcastResult> {
    return this.callable("this.broadcast()").broadcast(service, method, params);
  }

  [ATTACH](context: ServiceContext): void {
    this.context = context;
  }

  private get ctx(): ServiceContext {
    if (!this.context) {
      throw new Error(
        `${this.constructor.name} is not attached to a node: services are created by the node, or in tests by createTestBed() from "p2p-core/testing"`,
      );
    }
    return this.context;
  }

  private callable(what: string): ServiceContext {
    const ctx = this.ctx;
    if (ctx.phase === "constructing") {
      throw new Error(`${what} cannot be used in a constructor or field initialiser of ${this.constructor.name}: call other services from initialize() or a method`);
    }
    return ctx;
  }
}

export function attachContext(service: BaseService, context: ServiceContext): void {
  (service as unknown as Record<symbol, (c: ServiceContext) => void>)[ATTACH]!(context);
}

/** Creates a service instance whose constructor and field initialisers already see `context`. */
export function constructService<S extends BaseService>(cls: new () => S, context: ServiceContext): S {
  const holder = globalThis as PendingHolder;
  holder[PENDING] = context;
  context.phase = "constructing";
  try {
    const instance = new cls();
    // A class compiled against an older copy of p2p-core does not read the pending context.
    attachContext(instance, context);
    return instance;
  } finally {
    holder[PENDING] = undefined;
    context.phase = "initializing";
  }
}

export function isServiceClass(value: unknown): value is new () => BaseService {
  return typeof value === "function" && (value as unknown as Record<symbol, unknown>)[SERVICE_BRAND] === true;
}
