/** Types of the service proxy: untyped by default, typed through ServiceRegistry or proxyFor<S>(). */

export interface CallOptions {
  /** Run on this node only. */
  node?: string;
  /** Deadline for this call (never longer than the caller's remaining budget). */
  timeoutMs?: number;
  /** Balancing strategy for this call. */
  balancer?: "round-robin" | "random" | "least-latency";
}

export type RemoteMethod = (params?: Record<string, unknown>, options?: CallOptions) => Promise<unknown>;
export type ClusterProxy = Record<string, Record<string, RemoteMethod>>;

type MethodKeys<S> = {
  [K in keyof S]: S[K] extends (params: never) => unknown ? (K extends string ? K : never) : never;
}[keyof S];

type ParamsOf<F> = F extends () => unknown ? Record<string, unknown> | undefined : F extends (params: infer P) => unknown ? P : never;

/** Every method of service class S, as a remote call. */
export type ServiceProxy<S> = {
  [K in MethodKeys<S>]: S[K] extends (...args: never[]) => infer R
    ? (params: ParamsOf<S[K]>, options?: CallOptions) => Promise<Awaited<R>>
    : never;
};

/**
 * Service authors declare their services here to get compile-checked proxies:
 * `declare module "p2p-core" { interface ServiceRegistry { other_service: OtherService } }`
 */
// eslint-disable-next-line @typescript-eslint/no-empty-interface
export interface ServiceRegistry {}

export type TypedClusterProxy = { [K in keyof ServiceRegistry]: ServiceProxy<ServiceRegistry[K]> } & ClusterProxy;
