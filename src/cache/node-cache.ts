import { createHash } from "node:crypto";
import type { Config } from "../config/config.js";
import type { NodeMetrics } from "../metrics/metrics.js";
import type { Logger } from "../log.js";
import type { CallResult, MethodResultCache } from "../rpc/router.js";
import type { ServiceCacheApi } from "../services/service-cache-api.js";
import { methodCacheKey, type CacheMetricsSink, type InvalidationSelector } from "./cache.js";
import { createNodeCache } from "./create.js";
import { ServiceCache } from "./service-cache.js";
import type { TwoLevelCache } from "./two-level.js";
import { ClusterInvalidationBus } from "./cluster-bus.js";

/** The node's cache: levels, cluster bus, metrics, health reason, and the faces the node hands out. */
export class NodeCache implements MethodResultCache {
  private constructor(
    private readonly config: Config,
    readonly cache: TwoLevelCache,
    readonly bus: ClusterInvalidationBus,
  ) {}

  static async create(config: Config, metrics: NodeMetrics, logger: Logger, send: (selector: InvalidationSelector) => Promise<void>): Promise<NodeCache> {
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

  async getOrLoad(service: string, method: string, params: Record<string, unknown>, ttlMs: number, load: () => Promise<CallResult>): Promise<CallResult> {
    let ranHere: CallResult | undefined;
    const result = await this.cache.getOrLoad(methodCacheKey(service, method, params), ttlMs, async () => {
      ranHere = await load();
      return ranHere.result;
    });
    return ranHere ?? { result, nodeId: this.config.nodeId };
  }

  forService(service: string): ServiceCacheApi {
    return new ServiceCache(this.cache, service);
  }

  invalidate(selector: InvalidationSelector): Promise<number> {
    return this.cache.invalidate(selector);
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
