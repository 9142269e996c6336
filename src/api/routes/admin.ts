import type { FastifyInstance } from "fastify";
import { P2PError, toP2PError } from "../../errors.js";
import { newTraceId } from "../../rpc/context.js";
import type { ApiContext } from "../context.js";
import { authErrors, bearer, errorSchema } from "../schemas.js";
import { sendError } from "../errors.js";

interface BroadcastBody {
  service: string;
  method: string;
  params?: Record<string, unknown>;
  timeout_ms?: number;
}

const DEFAULT_BROADCAST_TIMEOUT_MS = 10_000;

export function adminRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const { registry, router, clock } = ctx;

  app.post<{ Body: BroadcastBody }>(
    "/admin/broadcast",
    {
      config: { access: "admin" },
      schema: {
        tags: ["admin"],
        summary: "Call a method on every alive node hosting the service, in parallel",
        security: bearer,
        body: {
          type: "object",
          properties: {
            service: { type: "string", minLength: 1 },
            method: { type: "string", minLength: 1 },
            params: { type: "object", additionalProperties: true },
            timeout_ms: { type: "integer", minimum: 1, maximum: 600000 },
          },
          required: ["service", "method"],
        },
        response: {
          200: {
            type: "object",
            properties: {
              results: { type: "object", additionalProperties: { type: "object", properties: { result: {}, error: {} } } },
              ok: { type: "integer" },
              failed: { type: "integer" },
            },
          },
          400: errorSchema,
          ...authErrors,
          404: errorSchema,
        },
      },
    },
    async (request, reply) => {
      const { service, method } = request.body;
      const params = request.body.params ?? {};
      const timeoutMs = request.body.timeout_ms ?? DEFAULT_BROADCAST_TIMEOUT_MS;
      if (!registry.hasService(service)) return sendError(reply, new P2PError("SERVICE_NOT_FOUND", `service "${service}" not found`), ctx.logger);
      if (!registry.method(service, method)) return sendError(reply, new P2PError("METHOD_NOT_FOUND", `method "${method}" not found in service "${service}"`), ctx.logger);
      const targets = registry.hostsOf(service).filter((h) => h.state === "alive").map((h) => h.nodeId);
      const traceId = newTraceId();
      const settled = await Promise.all(
        targets.map(async (nodeId) => {
          try {
            const callCtx = { caller: request.caller!, deadline: clock.now() + timeoutMs, traceId };
            const out = await router.call(callCtx, service, method, params, { node: nodeId });
            return [nodeId, { result: out.result ?? null }] as const;
          } catch (err) {
            return [nodeId, { error: toP2PError(err).toJSON() }] as const;
          }
        }),
      );
      const results = Object.fromEntries(settled);
      const ok = settled.filter(([, r]) => "result" in r).length;
      return { results, ok, failed: settled.length - ok };
    },
  );

  app.post<{ Body: { service: string; method?: string } }>(
    "/admin/cache/invalidate",
    {
      config: { access: "admin" },
      schema: {
        tags: ["admin"],
        summary: "Drop cached results of a service (or one method) on every node within a second",
        security: bearer,
        body: {
          type: "object",
          properties: { service: { type: "string", minLength: 1 }, method: { type: "string", minLength: 1 } },
          required: ["service"],
        },
        response: { 200: { type: "object", properties: { invalidated: { type: "integer" } } }, 400: errorSchema, ...authErrors },
      },
    },
    async (request, reply) => {
      try {
        const { service, method } = request.body;
        const invalidated = await ctx.invalidateCache(method === undefined ? { service } : { service, method });
        return { invalidated };
      } catch (err) {
        return sendError(reply, toP2PError(err), ctx.logger);
      }
    },
  );

  app.get(
    "/debug/registry",
    {
      config: { access: "admin" },
      schema: { tags: ["admin"], summary: "This node's registry: services, methods and where each runs", security: bearer, response: authErrors },
    },
    async () => {
      const services: Record<string, unknown> = {};
      for (const [name, nodeIds] of Object.entries(registry.serviceMap())) {
        const hosts = registry.hostsOf(name);
        const methodNames = new Set(hosts.flatMap((h) => registry.serviceOn(h.nodeId, name)?.methods.map((m) => m.name) ?? []));
        services[name] = {
          methods: [...methodNames].map((m) => registry.method(name, m)),
          alive_nodes: nodeIds,
          nodes: hosts.map((h) => ({ node_id: h.nodeId, state: h.state, address: h.address, version: h.meta?.services.find((s) => s.name === name)?.version })),
        };
      }
      return {
        node_id: ctx.config.nodeId,
        local_services: ctx.local.list().map((s) => ({ name: s.name, version: s.version, status: s.status, methods: [...s.methods.keys()] })),
        services,
        leader: registry.leader(),
      };
    },
  );

  app.get(
    "/metrics",
    {
      config: { access: "client" },
      schema: { tags: ["node"], summary: "Prometheus metrics (text format), names prefixed p2p_", security: bearer, produces: ["text/plain"] },
    },
    async (_request, reply) => {
      reply.header("content-type", ctx.metrics.contentType);
      return ctx.metrics.text();
    },
  );
}
