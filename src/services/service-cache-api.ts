/** `this.cache` for service authors; keys are namespaced by the service's name. */
export interface CacheSetOptions {
  ttl_s: number;
  tags?: string[];
}

/**
 * What to drop: a service's cached results (or one method's, or the entry of one params
 * object), or every entry this service tagged — by `this.cache.set(..., { tags })` or by a
 * method's `cache: { tags }`.
 */
export type InvalidateSelector = { service: string; method?: string } | { service: string; method: string; params: Record<string, unknown> } | { tag: string };

export interface ServiceCacheApi {
  get<T>(key: string): Promise<T | undefined>;
  set<T>(key: string, value: T, options: CacheSetOptions): Promise<void>;
  del(key: string): Promise<void>;
  /** Drops cached entries cluster-wide; resolves with the number dropped on this node. */
  invalidate(selector: InvalidateSelector): Promise<number>;
}
