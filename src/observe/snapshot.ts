import type { CacheFigures } from "./cache-figures.js";
import type { SparseBins } from "./latency-bins.js";
import type { MethodFigures } from "./method-window.js";
import type { ProcessFigures } from "./process-sampler.js";

/** One node's figures as it sends them to the node gathering the cluster's. */
export interface NodeSnapshot {
  window_s: number;
  process: ProcessFigures;
  methods: MethodFigures[];
  cache: CacheFigures;
}

const PROCESS_KEYS = ["cpu_pct", "rss_bytes", "heap_used_bytes", "loop_lag_ms", "inflight", "uptime_s"] as const;
const METHOD_NUMBERS = ["calls_per_s", "errors_per_s", "p50_ms", "p99_ms", "calls", "errors", "window_calls", "window_errors"] as const;
/** A peer's answer is bounded before it is used: at most this many methods. */
const MAX_METHODS = 5000;

const isNum = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v) && v >= 0;
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** Checks a snapshot that came from a peer; null when it is not one (an older or broken node). */
export function parseSnapshot(value: unknown): NodeSnapshot | null {
  if (!isObj(value) || !isNum(value.window_s) || !isObj(value.process) || !isObj(value.cache) || !Array.isArray(value.methods)) return null;
  const proc = value.process;
  if (!PROCESS_KEYS.every((k) => isNum(proc[k]))) return null;
  const cache = value.cache;
  if (!isNum(cache.hits) || !isNum(cache.misses) || !isNum(cache.hit_ratio)) return null;
  if (value.methods.length > MAX_METHODS) return null;
  const methods: MethodFigures[] = [];
  for (const m of value.methods) {
    if (!isObj(m) || typeof m.service !== "string" || typeof m.method !== "string") return null;
    if (!METHOD_NUMBERS.every((k) => isNum(m[k])) || !Array.isArray(m.bins)) return null;
    const bins = m.bins.filter((b): b is [number, number] => Array.isArray(b) && b.length === 2 && isNum(b[0]) && isNum(b[1]));
    methods.push({ ...(m as unknown as MethodFigures), bins: bins as SparseBins });
  }
  return {
    window_s: value.window_s,
    process: Object.fromEntries(PROCESS_KEYS.map((k) => [k, proc[k]])) as unknown as ProcessFigures,
    methods,
    cache: { hits: cache.hits, misses: cache.misses, hit_ratio: cache.hit_ratio },
  };
}
