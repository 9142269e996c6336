import type { FastifyInstance } from "fastify";
import { P2PError } from "../errors.js";
import type { ApiContext } from "./context.js";
import type { Caller } from "../auth/tokens.js";
import { sendError } from "./errors.js";

const BEARER = /^Bearer\s+(\S+)\s*$/i;

/**
 * Checks the bearer token of every route whose config.access is not "public":
 * missing / malformed / badly signed / expired → 401; valid token, wrong role → 403.
 */
export function registerAuth(app: FastifyInstance, ctx: ApiContext): void {
  app.decorateRequest("caller", undefined);
  // Callback style, not async: a token seen before is checked without a promise or a tick.
  app.addHook("onRequest", (request, reply, done) => {
    const access = request.routeOptions.config?.access;
    if (access === undefined || access === "public") return done();
    const refuse = (err: unknown) => {
      sendError(reply, err, ctx.logger);
    };
    const admit = (caller: Caller) => {
      if (access === "admin" && caller.role !== "admin") return refuse(new P2PError("FORBIDDEN", "admin role required"));
      request.caller = caller;
      done();
    };
    const header = request.headers.authorization;
    const match = typeof header === "string" ? BEARER.exec(header) : null;
    if (!match) return refuse(new P2PError("UNAUTHORIZED", "missing or malformed Authorization: Bearer <token>"));
    let known: Caller | undefined;
    try {
      known = ctx.tokens.cached(match[1]!);
    } catch (err) {
      return refuse(err);
    }
    if (known) return admit(known);
    ctx.tokens.verify(match[1]!).then(admit, refuse);
  });
}
