/**
 * Types of service-to-service calls. `this.proxy` is closed over the services declared in
 * ServiceRegistry (a typo does not compile); `this.proxyFor<S>("name")` is typed by a class;
 * `this.proxyFor("name")` is untyped and each call names its result type.
 */
import type { BaseService } from "./base-service.js";
import type { SystemService } from "./builtin/system.js";

export interface CallOptions {
  /** Run on this node only. */
  node?: string;
  /** Deadline for this call (never longer than the caller's remaining budget). */
  timeoutMs?: number;
  /** Balancing strategy for this call. */
  balancer?: "round-robin" | "random" | "least-latency";
}

/** An untyped remote method: the caller chooses the result type, `await m<Stock>({ sku })`. */
export type RemoteMethod = <T = unknown>(params?: Record<string, unknown>, options?: CallOptions) => Promise<T>;
export type UntypedServiceProxy = Record<string, RemoteMethod>;
export type ClusterProxy = Record<string, UntypedServiceProxy>;

/** Names of S's own methods: lifecycle and framework members of BaseService are not remote methods. */
type RemoteMethodNames<S> = Exclude<
  { [K in keyof S]: S[K] extends (...args: never[]) => unknown ? (K extends string ? K : never) : never }[keyof S],
  keyof BaseService
>;

type ParamsOf<A> = A extends [] ? Record<string, never> | undefined : A extends [(infer P)?, ...unknown[]] ? P : never;

/** One method as a remote call; params may be left out when the method takes none or all are optional. */
type RemoteCall<F> = F extends (...args: infer A) => infer R
  ? undefined extends ParamsOf<A>
    ? (params?: Exclude<ParamsOf<A>, undefined>, options?: CallOptions) => Promise<Awaited<R>>
    : Record<string, never> extends ParamsOf<A>
      ? (params?: ParamsOf<A>, options?: CallOptions) => Promise<Awaited<R>>
      : (params: ParamsOf<A>, options?: CallOptions) => Promise<Awaited<R>>
  : never;

/** Every method of service class S, as a remote call. */
export type ServiceProxy<S> = { readonly [K in RemoteMethodNames<S>]: RemoteCall<S[K]> };

/**
 * The services `this.proxy` knows. Declare yours to call them through `this.proxy`:
 * `declare module "p2p-core" { interface ServiceRegistry { inventory: Inventory } }`
 */
export interface ServiceRegistry {
  /** Built into every node. */
  system: SystemService;
}

/** `this.proxy`: closed over ServiceRegistry, so `this.proxy.invntory` does not compile. */
export type TypedClusterProxy = { readonly [K in keyof ServiceRegistry]: ServiceProxy<ServiceRegistry[K]> };
