import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction, onRequestHookHandler } from "fastify";
import { P2PError } from "../errors.js";
import type { Access, ApiContext } from "./context.js";
import type { Caller } from "../auth/tokens.js";
import { sendError } from "./errors.js";

const BEARER = /^Bearer\s+(\S+)\s*$/i;
const PREFIX = "Bearer ";

/**
 * Checks the bearer token of every route whose config.access is not "public":
 * missing / malformed / badly signed / expired → 401; valid token, wrong role → 403.
 * The check is added to each such route when it is declared (its access level known then), so
 * a request does not look its route's options up (Fastify builds that object on every read).
 */
export function registerAuth(app: FastifyInstance, ctx: ApiContext): void {
  app.decorateRequest("caller", undefined);
  const hooks = new Map<Access, onRequestHookHandler>();
  app.addHook("onRoute", (route) => {
    const access = (route.config as { access?: Access } | undefined)?.access;
    if (access === undefined || access === "public") return;
    let hook = hooks.get(access);
    if (!hook) hooks.set(access, (hook = tokenCheck(ctx, access)));
    // After the hooks every request runs (the origin check): route hooks come after those.
    route.onRequest = route.onRequest === undefined ? [hook] : [...(Array.isArray(route.onRequest) ? route.onRequest : [route.onRequest]), hook];
  });
}

const MALFORMED = "missing or malformed Authorization: Bearer <token>";

/** Callback style, not async: a token seen before is checked without a promise, a tick or a closure. */
function tokenCheck(ctx: ApiContext, access: Access): onRequestHookHandler {
  const refuse = (reply: FastifyReply, err: unknown): void => {
    sendError(reply, err, ctx.logger);
  };
  const admit = (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction, caller: Caller): void => {
    if (access === "admin" && caller.role !== "admin") return refuse(reply, new P2PError("FORBIDDEN", "admin role required"));
    request.caller = caller;
    done();
  };
  return (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => {
    const header = request.headers.authorization;
    if (typeof header !== "string") return refuse(reply, new P2PError("UNAUTHORIZED", MALFORMED));
    let known: Caller | undefined;
    let match: RegExpExecArray | null = null;
    try {
      // The common case without the pattern: "Bearer <token>" with a token verified before (a
      // verified token has no white space, so the pattern would have found the same one).
      if (header.startsWith(PREFIX)) known = ctx.tokens.cached(header.slice(PREFIX.length));
      if (known === undefined) {
        match = BEARER.exec(header);
        if (match) known = ctx.tokens.cached(match[1]!);
      }
    } catch (err) {
      return refuse(reply, err);
    }
    if (known) return admit(request, reply, done, known);
    if (!match) return refuse(reply, new P2PError("UNAUTHORIZED", MALFORMED));
    ctx.tokens.verify(match[1]!).then(
      (caller) => admit(request, reply, done, caller),
      (err: unknown) => refuse(reply, err),
    );
  };
}
