import type { FastifyInstance } from "fastify";
import type { ApiContext } from "../context.js";
import { authErrors, bearer } from "../schemas.js";

const num = { type: "number" } as const;
const methodRow = {
  type: "object",
  properties: { service: { type: "string" }, method: { type: "string" }, calls_per_s: num, errors_per_s: num, p50_ms: num, p99_ms: num },
} as const;
const cache = {
  type: ["object", "null"],
  description: "Cache lookups since the node started: hits (memory or Redis), misses (neither), hits / (hits + misses)",
  properties: { hits: num, misses: num, hit_ratio: num },
} as const;

const body = {
  type: "object",
  properties: {
    generated_at: { type: "string", format: "date-time" },
    window_s: { type: "integer", description: "Length of the sliding window of the per-method figures, in seconds" },
    nodes: {
      type: "array",
      items: {
        type: "object",
        properties: {
          node_id: { type: "string" },
          role: { type: "string" },
          state: { type: "string" },
          stale: { type: "boolean", description: "The node did not answer in time; its figures are the last known ones (null if none)" },
          error: { type: "string" },
          process: {
            type: ["object", "null"],
            properties: { cpu_pct: num, rss_bytes: num, heap_used_bytes: num, loop_lag_ms: num, inflight: num, uptime_s: num },
          },
          methods: {
            type: "array",
            description: "Calls this node received, per method: rates and percentiles over the window, calls and errors since start",
            items: { ...methodRow, properties: { ...methodRow.properties, calls: num, errors: num } },
          },
          cache,
        },
      },
    },
    services: { type: "array", description: "Per method, over every node that answered: rates added up, percentiles of all their calls", items: methodRow },
    cache,
  },
} as const;

export function clusterMetricsRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get(
    "/cluster/metrics",
    {
      config: { access: "client" },
      schema: {
        tags: ["cluster"],
        summary: "Live figures of every alive node",
        description:
          "Per node: CPU, memory, event-loop lag, calls in flight, uptime, and per service and method the calls/s, errors/s, " +
          "p50 and p99 latency over the last minute (a sliding window), and the cache hit ratio; then the same per method " +
          "for the whole cluster. The asked node gathers the others' figures over the cluster link; a node that does not " +
          "answer within 1.5 s is marked `stale` and never holds up the answer.",
        security: bearer,
        response: { 200: body, ...authErrors },
      },
    },
    async () => ctx.clusterMetrics(),
  );
}
