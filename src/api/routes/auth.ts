import type { FastifyInstance } from "fastify";
import { P2PError } from "../../errors.js";
import type { ApiContext } from "../context.js";
import { errorSchema } from "../schemas.js";
import { sendError } from "../errors.js";

interface TokenBody {
  node_id?: string;
  api_key?: string;
}

export function authRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.post<{ Body: TokenBody }>(
    "/auth/token",
    {
      config: { access: "public" },
      schema: {
        tags: ["auth"],
        summary: "Exchange an API key for a bearer token (admin key → admin, client key → client)",
        body: {
          type: "object",
          properties: { node_id: { type: "string", maxLength: 128 }, api_key: { type: "string", maxLength: 1024 } },
        },
        response: {
          200: {
            type: "object",
            properties: {
              access_token: { type: "string" },
              token_type: { type: "string" },
              expires_in: { type: "integer" },
              role: { type: "string" },
            },
          },
          400: errorSchema,
          401: errorSchema,
        },
      },
    },
    async (request, reply) => {
      const body = request.body;
      if (body === null || typeof body !== "object" || Array.isArray(body)) {
        return sendError(reply, new P2PError("BAD_REQUEST", "body must be a JSON object"), ctx.logger);
      }
      const role = typeof body.api_key === "string" && body.api_key.length > 0 ? ctx.keys.roleFor(body.api_key) : undefined;
      if (!role) return sendError(reply, new P2PError("UNAUTHORIZED", "invalid or missing api_key"), ctx.logger);
      const sub = typeof body.node_id === "string" && body.node_id.length > 0 ? body.node_id : "anonymous";
      const ttl = ctx.config.tokenTtlSeconds;
      const token = await ctx.tokens.issue(sub, role, ttl);
      ctx.logger.info({ sub, role }, "token issued");
      return { access_token: token, token_type: "bearer", expires_in: ttl, role };
    },
  );
}
