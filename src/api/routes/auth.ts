import type { FastifyInstance } from "fastify";
import { P2PError } from "../../errors.js";
import type { ApiContext } from "../context.js";
import { errorSchema } from "../schemas.js";
import { sendError } from "../errors.js";
import { RateLimiter } from "../rate-limit.js";

/**
 * Wrong keys allowed per source address: a burst of 10, then one a second. Past that, every
 * /auth/token from that address gets 429 (the key is not even compared), and each refused
 * attempt pushes the next allowed one further out (up to 10 s): it must slow down.
 */
const AUTH_FAILURE_BURST = 10;
const AUTH_FAILURES_PER_SECOND = 1;

interface TokenBody {
  node_id?: string;
  api_key?: string;
}

export function authRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const failures = new RateLimiter({ ratePerSecond: AUTH_FAILURES_PER_SECOND, burst: AUTH_FAILURE_BURST, now: () => ctx.clock.now() });
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
          429: errorSchema,
        },
      },
    },
    async (request, reply) => {
      const body = request.body;
      if (body === null || typeof body !== "object" || Array.isArray(body)) {
        return sendError(reply, new P2PError("BAD_REQUEST", "body must be a JSON object"), ctx.logger);
      }
      if (!failures.allows(request.ip)) {
        failures.penalize(request.ip);
        reply.header("retry-after", String(failures.retryAfterSeconds(request.ip)));
        return sendError(reply, new P2PError("RATE_LIMITED", "too many failed attempts from this address; slow down"), ctx.logger);
      }
      const role = typeof body.api_key === "string" && body.api_key.length > 0 ? ctx.keys.roleFor(body.api_key) : undefined;
      if (!role) {
        failures.take(request.ip);
        return sendError(reply, new P2PError("UNAUTHORIZED", "invalid or missing api_key"), ctx.logger);
      }
      const sub = typeof body.node_id === "string" && body.node_id.length > 0 ? body.node_id : "anonymous";
      const ttl = ctx.config.tokenTtlSeconds;
      const token = await ctx.tokens.issue(sub, role, ttl, role === "admin" ? "api-key" : "client-key");
      ctx.logger.info({ sub, role }, "token issued");
      return { access_token: token, token_type: "bearer", expires_in: ttl, role };
    },
  );
}
