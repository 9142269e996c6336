/**
 * `this.cache` of a service: the node's cache seen through the service's own namespace.
 * Keys become `s:<service>:<key>` and tags `<service>:<tag>`, so two services never collide;
 * `invalidate({service, method?})` may name any service (e.g. after a write that makes
 * another service's cached results stale), `invalidate({tag})` only this service's tags.
 * Invalidation reaches every node of the cluster.
 */
import { methodCacheKey, serviceEntryKey, type Cache, type InvalidationSelector } from "./cache.js";

export interface ServiceSetOptions {
  /** Time to live in seconds (> 0). */
  ttl_s: number;
  tags?: readonly string[];
}

export type ServiceInvalidation = { service: string; method?: string } | { service: string; method: string; params: Record<string, unknown> } | { tag: string };

export class ServiceCache {
  constructor(
    private readonly cache: Cache,
    readonly service: string,
  ) {
    if (!service || service.includes(":")) throw new Error(`invalid service name for cache scope: ${service}`);
  }

  get<T>(key: string): Promise<T | undefined> {
    return this.cache.get<T>(serviceEntryKey(this.service, key));
  }

  async set<T>(key: string, value: T, options: ServiceSetOptions): Promise<void> {
    if (!(options.ttl_s > 0)) throw new RangeError("ttl_s must be a positive number of seconds");
    return this.cache.set(serviceEntryKey(this.service, key), value, {
      ttlMs: options.ttl_s * 1000,
      tags: options.tags?.map((tag) => this.scopedTag(tag)),
    });
  }

  del(key: string): Promise<void> {
    return this.cache.del(serviceEntryKey(this.service, key));
  }

  /** Resolves to the number of entries dropped on this node. */
  invalidate(selector: ServiceInvalidation): Promise<number> {
    const scoped: InvalidationSelector =
      "tag" in selector
        ? { tag: this.scopedTag(selector.tag) }
        : "params" in selector
          ? { key: methodCacheKey(selector.service, selector.method, selector.params) }
          : selector.method === undefined
            ? { service: selector.service }
            : { service: selector.service, method: selector.method };
    return this.cache.invalidate(scoped);
  }

  private scopedTag(tag: string): string {
    return `${this.service}:${tag}`;
  }
}
