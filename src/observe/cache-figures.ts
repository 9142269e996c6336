import type { Registry } from "prom-client";

export interface CacheFigures {
  hits: number;
  misses: number;
  /** hits / (hits + misses), 0 before the first lookup. */
  hit_ratio: number;
}

const CACHE_REQUESTS = "p2p_cache_requests_total";

/**
 * Cache hits and misses since the node started, read from the cache's own Prometheus counter:
 * a hit is a lookup answered by the memory level or by Redis; a miss is one that neither level
 * answered (memory misses that Redis then answered are hits).
 */
export async function cacheFigures(registry: Registry): Promise<CacheFigures> {
  const metric = registry.getSingleMetric(CACHE_REQUESTS);
  const counts = { l1: { hit: 0, miss: 0 }, l2: { hit: 0, miss: 0 } };
  if (metric) {
    for (const v of (await metric.get()).values) {
      const level = v.labels.level === "l2" ? counts.l2 : v.labels.level === "l1" ? counts.l1 : null;
      if (level && (v.labels.result === "hit" || v.labels.result === "miss")) level[v.labels.result] += v.value;
    }
  }
  return cacheTotals(counts.l1.hit + counts.l2.hit, Math.max(0, counts.l1.miss - counts.l2.hit));
}

export function cacheTotals(hits: number, misses: number): CacheFigures {
  const total = hits + misses;
  return { hits, misses, hit_ratio: total > 0 ? Math.round((hits / total) * 1000) / 1000 : 0 };
}
