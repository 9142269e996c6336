import type { FastifyInstance } from "fastify";
import { P2PError, toP2PError } from "../../errors.js";
import { methodCacheKey, type InvalidationSelector } from "../../cache/cache.js";
import { broadcastCall } from "../../rpc/broadcast.js";
import { newTraceId } from "../../rpc/context.js";
import type { ApiContext } from "../context.js";
import { authErrors, bearer, errorSchema } from "../schemas.js";
import { sendError } from "../errors.js";
import { actorOf } from "../actor.js";
import { audit } from "../../audit/audit.js";

interface BroadcastBody {
  service: string;
  method: string;
  params?: Record<string, unknown>;
  timeout_ms?: number;
}

const DEFAULT_BROADCAST_TIMEOUT_MS = 10_000;

interface InvalidateBody {
  service: string;
  method?: string;
  params?: Record<string, unknown>;
  tag?: string;
}

/** The cache selector of an invalidation request (tags are scoped by service, as services scope them). */
function invalidationSelector({ service, method, params, tag }: InvalidateBody): InvalidationSelector {
  if (service.includes(":") || method?.includes(":")) throw new P2PError("BAD_REQUEST", "service and method names cannot contain ':'");
  if (tag !== undefined) {
    if (method !== undefined || params !== undefined) throw new P2PError("BAD_REQUEST", "give either tag, or method (and params)");
    return { tag: `${service}:${tag}` };
  }
  if (params !== undefined) {
    if (method === undefined) throw new P2PError("BAD_REQUEST", "params needs method");
    return { key: methodCacheKey(service, method, params) };
  }
  return method === undefined ? { service } : { service, method };
}

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
      const timeoutMs = request.body.timeout_ms ?? DEFAULT_BROADCAST_TIMEOUT_MS;
      const callCtx = { caller: request.caller!, deadline: clock.now() + timeoutMs, traceId: newTraceId() };
      // Params are the caller's data (they may hold anything): the record names the call only.
      audit(ctx.logger, actorOf(request), "broadcast", { service, method, trace_id: callCtx.traceId });
      try {
        return await broadcastCall(router, registry, callCtx, service, method, request.body.params ?? {});
      } catch (err) {
        return sendError(reply, toP2PError(err), ctx.logger);
      }
    },
  );

  app.post<{ Body: InvalidateBody }>(
    "/admin/cache/invalidate",
    {
      config: { access: "admin" },
      schema: {
        tags: ["admin"],
        summary: "Drop cached results of a service, a method, one call's params, or a tag, on every node within a second",
        security: bearer,
        body: {
          type: "object",
          properties: {
            service: { type: "string", minLength: 1 },
            method: { type: "string", minLength: 1 },
            params: { type: "object", additionalProperties: true, description: "only the entry of these params (needs method)" },
            tag: { type: "string", minLength: 1, description: "entries the service tagged so (method cache tags or this.cache tags)" },
          },
          required: ["service"],
        },
        response: {
          200: {
            type: "object",
            properties: {
              invalidated: { type: "integer", description: "entries dropped from the memory of every node" },
              nodes: { type: "object", additionalProperties: { type: "integer" }, description: "entries dropped, by node" },
              shared: { type: "integer", description: "entries dropped from Redis (with --redis-url)" },
            },
          },
          400: errorSchema,
          ...authErrors,
        },
      },
    },
    async (request, reply) => {
      try {
        const selector = invalidationSelector(request.body);
        const { service, method, tag } = request.body;
        audit(ctx.logger, actorOf(request), "cache.invalidate", { service, ...(method ? { method } : {}), ...(tag ? { tag } : {}), ...(request.body.params ? { one_entry: true } : {}) });
        return await ctx.invalidateCache(selector);
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
