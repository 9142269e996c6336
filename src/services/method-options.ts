/** What @serviceMethod records about a method; read by the loader through a global symbol. */
export interface JsonSchema {
  [keyword: string]: unknown;
}

/**
 * A method's result cache. `tags` name groups to drop together with
 * `this.cache.invalidate({ tag })`; `{name}` in a tag is replaced by that param's value,
 * so `tags: ["sku:{sku}"]` tags the entry of `{ sku: "A1" }` with "sku:A1".
 */
export interface MethodCacheOptions {
  ttl_s: number;
  tags?: string[];
}

export interface ServiceMethodOptions {
  description?: string;
  /** Callable by clients; otherwise admin and other services only. */
  public?: boolean;
  /** JSON schema of the params object, checked before the call. */
  params?: JsonSchema;
  /** Safe to retry on another node after a timeout or lost connection. */
  idempotent?: boolean;
  /** Cache results by service, method and params, where the method runs and where the call entered. */
  cache?: MethodCacheOptions;
  timeout_ms?: number;
}

export interface MethodDescriptor extends ServiceMethodOptions {
  name: string;
}

/** A global symbol, so services compiled against another copy of the framework still register. */
export const METHOD_OPTIONS = Symbol.for("p2p-core.serviceMethod");
export const SERVICE_BRAND = Symbol.for("p2p-core.BaseService");

type AnyMethod = (this: never, params: never) => unknown;

export function readMethodOptions(fn: unknown): ServiceMethodOptions | undefined {
  if (typeof fn !== "function") return undefined;
  return (fn as unknown as Record<symbol, ServiceMethodOptions | undefined>)[METHOD_OPTIONS];
}

/**
 * TC39 standard method decorator: `@serviceMethod({ public: true }) async hello(p) {}`.
 * Stores the options on the function itself; the loader collects them from the prototype.
 */
export function serviceMethod(options: ServiceMethodOptions = {}) {
  return function <F extends AnyMethod>(method: F, context: ClassMethodDecoratorContext): F {
    if (context.kind !== "method" || context.static || context.private) {
      throw new TypeError("@serviceMethod applies to public instance methods only");
    }
    Object.defineProperty(method, METHOD_OPTIONS, { value: { ...options }, enumerable: false });
    return method;
  };
}
