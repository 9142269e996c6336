/**
 * The cache seam: one interface for the in-memory L1, the Redis L2 and their composition,
 * plus the key scheme every level shares so that invalidation by service/method works by
 * key prefix on every level.
 *
 * Keys:  m:<service>:<method>:<sha1(canonical JSON of params)>   method results
 *        s:<service>:<key>                                        a service's own entries
 * Service and method names must not contain ':' (they are identifiers).
 */
import { createHash } from "node:crypto";

/** `{key}` drops one exact key everywhere (what `del` broadcasts); the others are for users. */
export type InvalidationSelector = { service: string; method?: string } | { tag: string } | { key: string };

export interface SetOptions {
  /** Time to live in milliseconds (> 0). */
  ttlMs: number;
  /** Tags for group invalidation (`invalidate({tag})`). */
  tags?: readonly string[];
}

export interface Cache {
  get<T>(key: string): Promise<T | undefined>;
  /** Values are stored as JSON: what comes back is a JSON round trip of what went in. `undefined` is not stored. */
  set<T>(key: string, value: T, options: SetOptions): Promise<void>;
  del(key: string): Promise<void>;
  /** Drops every matching entry; resolves to the number of entries dropped locally (L1). */
  invalidate(selector: InvalidationSelector): Promise<number>;
  close(): Promise<void>;
}

export type CacheLevel = "l1" | "l2";

/** Metrics without a prom-client dependency; the node maps it to p2p_cache_* series. */
export interface CacheMetricsSink {
  request(level: CacheLevel, result: "hit" | "miss" | "error"): void;
  eviction(level: CacheLevel): void;
  redisState(up: boolean): void;
}

export const noopMetrics: CacheMetricsSink = {
  request: () => {},
  eviction: () => {},
  redisState: () => {},
};

/** JSON with object keys sorted recursively, so `{a,b}` and `{b,a}` give the same text. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value)) ?? "null";
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== "object") return value;
  // Honour toJSON (Dates etc.) the way JSON.stringify would, then sort the result.
  const maybe = value as { toJSON?: () => unknown };
  if (typeof maybe.toJSON === "function") return sortKeys(maybe.toJSON());
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) {
    const v = (value as Record<string, unknown>)[key];
    if (v === undefined || typeof v === "function" || typeof v === "symbol") continue;
    out[key] = sortKeys(v);
  }
  return out;
}

export function methodCacheKey(service: string, method: string, params: unknown): string {
  const digest = createHash("sha1").update(canonicalJson(params ?? {})).digest("hex");
  return `m:${service}:${method}:${digest}`;
}

export function serviceEntryKey(service: string, key: string): string {
  return `s:${service}:${key}`;
}

/**
 * Key prefixes a selector covers. `{service}` covers the service's method results and its
 * own entries; `{service, method}` only that method's results. Tag selectors have none.
 */
export function selectorPrefixes(selector: InvalidationSelector): string[] {
  if (!("service" in selector)) return [];
  if (selector.method !== undefined) return [`m:${selector.service}:${selector.method}:`];
  return [`m:${selector.service}:`, `s:${selector.service}:`];
}

export function selectorMatches(selector: InvalidationSelector, key: string, tags: readonly string[] | undefined): boolean {
  if ("tag" in selector) return tags !== undefined && tags.includes(selector.tag);
  if ("key" in selector) return key === selector.key;
  return selectorPrefixes(selector).some((prefix) => key.startsWith(prefix));
}

export function isInvalidationSelector(value: unknown): value is InvalidationSelector {
  if (!value || typeof value !== "object") return false;
  const v = value as Record<string, unknown>;
  if (typeof v.tag === "string") return v.tag.length > 0;
  if (typeof v.key === "string") return v.key.length > 0;
  return (
    typeof v.service === "string" &&
    v.service.length > 0 &&
    !v.service.includes(":") &&
    (v.method === undefined || (typeof v.method === "string" && v.method.length > 0 && !v.method.includes(":")))
  );
}

/** What every level stores: the value already serialised, so it is stringified once per write. */
export interface StoredEntry {
  json: string;
  tags?: readonly string[];
}

export function toStoredEntry(value: unknown, tags?: readonly string[]): StoredEntry | undefined {
  const json = JSON.stringify(value);
  if (json === undefined) return undefined;
  return tags && tags.length > 0 ? { json, tags } : { json };
}
