/** The cache module: build one TwoLevelCache per node with createNodeCache. */
import type { Clock } from "../util/clock.js";
import type { CacheMetricsSink } from "./cache.js";
import { CompositeBus, RedisInvalidationBus, type InvalidationBus } from "./invalidation.js";
import type { MemoryCacheOptions } from "./memory.js";
import { RedisCache } from "./redis.js";
import type { RedisTarget } from "./redis-client.js";
import { TwoLevelCache } from "./two-level.js";

export * from "./cache.js";
export { CircuitBreaker, type BreakerOptions, type BreakerState } from "./breaker.js";
export { CompositeBus, MemoryBusNetwork, RedisInvalidationBus, type InvalidationBus, type InvalidationHandler } from "./invalidation.js";
export { MemoryCache, type MemoryCacheOptions } from "./memory.js";
export { RedisCache, type LockResult, type RedisCacheOptions, type RedisStatus } from "./redis.js";
export { createRedisClient, parseClusterNodes, type RedisClient, type RedisTarget } from "./redis-client.js";
export { ServiceCache, type ServiceInvalidation, type ServiceSetOptions } from "./service-cache.js";
export { TwoLevelCache, type TwoLevelCacheOptions } from "./two-level.js";

export interface NodeCacheOptions {
  /** Cluster name; L2 keys and the pub/sub channel live under `p2p:<namespace>:`. */
  namespace: string;
  /** This node's id, used as the origin of its invalidation messages. */
  nodeId: string;
  /** `--redis-url`; absent → memory only. */
  redisUrl?: RedisTarget;
  l1?: MemoryCacheOptions;
  /** A non-Redis bus (e.g. cluster gossip); combined with Redis pub/sub when Redis is configured. */
  bus?: InvalidationBus;
  metrics?: CacheMetricsSink;
  clock?: Clock;
  opTimeoutMs?: number;
}

export function createNodeCache(options: NodeCacheOptions): TwoLevelCache {
  const l1 = { ...options.l1, metrics: options.metrics, clock: options.clock };
  if (options.redisUrl === undefined || options.redisUrl.length === 0) {
    return new TwoLevelCache({ l1, bus: options.bus, clock: options.clock });
  }
  const l2 = new RedisCache({
    target: options.redisUrl,
    namespace: options.namespace,
    metrics: options.metrics,
    clock: options.clock,
    opTimeoutMs: options.opTimeoutMs,
  });
  const redisBus = new RedisInvalidationBus(l2, { originId: options.nodeId });
  const bus = options.bus ? new CompositeBus([redisBus, options.bus]) : redisBus;
  return new TwoLevelCache({ l1, l2, bus, clock: options.clock });
}
