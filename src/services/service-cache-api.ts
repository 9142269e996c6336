/** `this.cache` for service authors; keys are namespaced by the service's name. */
export interface CacheSetOptions {
  ttl_s: number;
  tags?: string[];
}

export type InvalidateSelector = { service: string; method?: string } | { tag: string };

export interface ServiceCacheApi {
  get<T>(key: string): Promise<T | undefined>;
  set<T>(key: string, value: T, options: CacheSetOptions): Promise<void>;
  del(key: string): Promise<void>;
  /** Drops cached entries cluster-wide; resolves with the number dropped on this node. */
  invalidate(selector: InvalidateSelector): Promise<number>;
}
