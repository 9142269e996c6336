/** Builds one node's TwoLevelCache: memory level, and Redis level + pub/sub bus when a URL is given. */
import type { Clock } from "../util/clock.js";
import type { CacheMetricsSink } from "./cache.js";
import type { InvalidationBus } from "./invalidation.js";
import type { MemoryCacheOptions } from "./memory.js";
import type { RedisTarget } from "./redis-client.js";
import { TwoLevelCache } from "./two-level.js";

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

export async function createNodeCache(options: NodeCacheOptions): Promise<TwoLevelCache> {
  const l1 = { ...options.l1, metrics: options.metrics, clock: options.clock };
  if (options.redisUrl === undefined || options.redisUrl.length === 0) {
    return new TwoLevelCache({ l1, bus: options.bus, clock: options.clock });
  }
  // Loaded only when Redis is configured: ioredis costs ~8 MiB of RSS on every node otherwise.
  const [{ RedisCache }, { CompositeBus, RedisInvalidationBus }] = await Promise.all([import("./redis.js"), import("./invalidation.js")]);
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
