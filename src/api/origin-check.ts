import type { FastifyInstance, FastifyRequest } from "fastify";
import { P2PError } from "../errors.js";
import type { Logger } from "../log.js";
import { sendError } from "./errors.js";

/** Methods that only read; every other method may change something. */
const READ_ONLY = new Set(["GET", "HEAD"]);

/** The origin a browser names when it talks to this node under the host it was given. */
function ownOrigin(request: FastifyRequest): string | undefined {
  const host = request.headers.host;
  if (typeof host !== "string" || host.length === 0) return undefined;
  return `${request.protocol}://${host}`.toLowerCase();
}

/**
 * Refuses state-changing requests sent by a page of another origin (a browser always names the
 * page's origin in `Origin` on such requests). Requests without `Origin` (curl, SDKs, other
 * nodes) are not browser cross-origin requests and go on to the usual token check.
 */
export function isCrossOriginWrite(request: FastifyRequest): boolean {
  if (READ_ONLY.has(request.method)) return false;
  const origin = request.headers.origin;
  if (origin === undefined) return false;
  if (typeof origin !== "string") return true;
  return origin.toLowerCase() !== ownOrigin(request);
}

export function registerOriginCheck(app: FastifyInstance, logger: Logger): void {
  app.addHook("onRequest", (request, reply, done) => {
    if (!isCrossOriginWrite(request)) return done();
    sendError(reply, new P2PError("FORBIDDEN", "cross-origin request refused: the Origin header does not match this node"), logger);
  });
}
