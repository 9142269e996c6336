import { createHash } from "node:crypto";
import type { Config } from "../config/config.js";
import type { NodeMetrics } from "../metrics/metrics.js";
import type { Logger } from "../log.js";
import type { CallResult, MethodResultCache } from "../rpc/router.js";
import type { ServiceCacheApi } from "../services/service-cache-api.js";
import type { CacheMetricsSink, InvalidationSelector } from "./cache.js";
import { MethodCache, type MethodCachePolicy } from "./method-cache.js";
import { createNodeCache } from "./create.js";
import { ServiceCache } from "./service-cache.js";
import type { TwoLevelCache } from "./two-level.js";
import { ClusterInvalidationBus } from "./cluster-bus.js";

/** What /admin/cache/invalidate answers: entries dropped in every node's memory, by node, and in Redis. */
export interface ClusterInvalidation {
  invalidated: number;
  nodes: Record<string, number>;
  shared?: number;
}

/** The node's cache: levels, cluster bus, metrics, health reason, and the faces the node hands out. */
export class NodeCache implements MethodResultCache {
  private readonly methods: MethodCache;
  private readonly nodeId: string;

  private constructor(
    config: Config,
    readonly cache: TwoLevelCache,
    readonly bus: ClusterInvalidationBus,
  ) {
    this.nodeId = config.nodeId;
    this.methods = new MethodCache(cache, config.nodeId);
  }

  static async create(config: Config, metrics: NodeMetrics, logger: Logger, send: (selector: InvalidationSelector) => Promise<Record<string, number>>): Promise<NodeCache> {
    const bus = new ClusterInvalidationBus(send);
    const cache = await createNodeCache({
      // Keys live under p2p:<namespace>: so clusters sharing a Redis never mix.
      namespace: createHash("sha256").update(config.secrets.clusterKey ?? "development").digest("hex").slice(0, 12),
      nodeId: config.nodeId,
      redisUrl: config.redisUrl,
      bus,
      metrics: prometheusSink(metrics),
    });
    if (config.redisUrl) {
      // A node starts healthy when Redis is reachable; an unreachable one delays start by 2 s at most.
      if (!(await cache.waitUntilUp(2000))) logger.warn({ reason: cache.status().reason }, "redis is not reachable yet: starting with the memory level");
      cache.onStatusChange((status) => {
        if (status.state === "up") logger.info("redis cache level is up");
        else logger.warn({ reason: status.reason }, "redis cache level is down: calls go on with the memory level");
      });
    } else {
      logger.info("cache: memory level only (no --redis-url)");
    }
    return new NodeCache(config, cache, bus);
  }

  getOrLoad(service: string, method: string, params: Record<string, unknown>, policy: MethodCachePolicy, load: () => Promise<CallResult>): Promise<CallResult> {
    return this.methods.getOrLoad(service, method, params, policy, load);
  }

  forService(service: string): ServiceCacheApi {
    return new ServiceCache(this.cache, service);
  }

  /** Drops matching entries on every node (and in Redis): the cluster-wide count and each node's. */
  async invalidateEverywhere(selector: InvalidationSelector): Promise<ClusterInvalidation> {
    const { here, shared, peers } = await this.cache.invalidateEverywhere(selector);
    const nodes = { [this.nodeId]: here, ...peers };
    const invalidated = Object.values(nodes).reduce((sum, n) => sum + n, 0);
    return this.cache.l2 ? { invalidated, nodes, shared } : { invalidated, nodes };
  }

  degradedReason(): string | null {
    const status = this.cache.status();
    return status.state === "down" ? `redis: ${status.reason ?? "unreachable"}` : null;
  }

  close(): Promise<void> {
    return this.cache.close();
  }
}

function prometheusSink(metrics: NodeMetrics): CacheMetricsSink {
  const requests = metrics.counter("p2p_cache_requests_total", "Cache lookups by level (l1 memory, l2 redis) and result", ["level", "result"]);
  const evictions = metrics.counter("p2p_cache_evictions_total", "Entries evicted to respect the cache bounds, by level", ["level"]);
  const redisUp = metrics.gauge("p2p_cache_redis_up", "1 when the Redis level answers, 0 when it is down (absent without Redis)", []);
  return {
    request: (level, result) => requests.labels(level, result).inc(),
    eviction: (level) => evictions.labels(level).inc(),
    redisState: (up) => redisUp.set(up ? 1 : 0),
  };
}
