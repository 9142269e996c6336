import type { FastifyInstance } from "fastify";
import type { ApiContext } from "../context.js";
import { VERSION } from "../../version.js";

export function healthRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const body = {
    type: "object",
    properties: {
      status: { type: "string", enum: ["ok", "degraded", "draining"] },
      node_id: { type: "string" },
      role: { type: "string" },
      version: { type: "string" },
      uptime_s: { type: "number" },
      reasons: { type: "array", items: { type: "string" } },
    },
    required: ["status", "node_id", "role", "version", "uptime_s"],
  } as const;
  app.get(
    "/health",
    {
      config: { access: "public" },
      schema: { tags: ["node"], summary: "Liveness: ok, degraded (with reasons) or draining (503)", response: { 200: body, 503: body } },
    },
    async (_request, reply) => {
      const base = {
        node_id: ctx.config.nodeId,
        role: ctx.config.role,
        version: VERSION,
        uptime_s: Math.round((Date.now() - ctx.startedAt) / 1000),
      };
      if (ctx.isDraining()) return reply.status(503).send({ status: "draining", ...base });
      const reasons = ctx.health.degradedReasons();
      return reasons.length > 0 ? { status: "degraded", ...base, reasons } : { status: "ok", ...base };
    },
  );
}
