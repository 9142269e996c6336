import type { FastifyInstance } from "fastify";
import { P2PError } from "../errors.js";
import type { ApiContext } from "./context.js";
import { sendError } from "./errors.js";

/**
 * Checks the bearer token of every route whose config.access is not "public":
 * missing / malformed / badly signed / expired → 401; valid token, wrong role → 403.
 */
export function registerAuth(app: FastifyInstance, ctx: ApiContext): void {
  app.decorateRequest("caller", undefined);
  app.addHook("onRequest", async (request, reply) => {
    const access = request.routeOptions.config?.access;
    if (access === undefined || access === "public") return;
    const header = request.headers.authorization;
    const match = typeof header === "string" ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    try {
      if (!match) throw new P2PError("UNAUTHORIZED", "missing or malformed Authorization: Bearer <token>");
      const caller = await ctx.tokens.verify(match[1]!);
      if (access === "admin" && caller.role !== "admin") throw new P2PError("FORBIDDEN", "admin role required");
      request.caller = caller;
    } catch (err) {
      return sendError(reply, err, ctx.logger);
    }
  });
}
