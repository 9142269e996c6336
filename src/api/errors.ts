import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { P2PError, toP2PError, type WireError } from "../errors.js";
import type { Logger } from "../log.js";

export interface ErrorEnvelope {
  id?: string | number | null;
  error: WireError;
}

/** What Fastify's own client errors (FST_ERR_*) mean to a client, in the contract's words. */
const FRAMEWORK_MESSAGES = new Map<string, string>([
  ["FST_ERR_CTP_EMPTY_JSON_BODY", "body is empty"],
  ["FST_ERR_CTP_INVALID_JSON_BODY", "body is not valid JSON"],
  ["FST_ERR_CTP_INVALID_MEDIA_TYPE", "unsupported content type"],
  ["FST_ERR_CTP_INVALID_CONTENT_LENGTH", "content-length does not match the body"],
  ["FST_ERR_BAD_URL", "malformed URL"],
  ["FST_ERR_MAX_PARAM_LENGTH", "a URL path segment is too long"],
]);

/** Maps anything thrown while serving a request to the catalog, once, for every route. */
export function toHttpError(err: unknown, request: FastifyRequest): P2PError {
  if (err instanceof P2PError) return err;
  const fe = err as Partial<FastifyError> & { validation?: unknown[] };
  if (fe && typeof fe === "object" && typeof fe.statusCode === "number" && fe.statusCode < 500) {
    if (fe.statusCode === 413) return new P2PError("PAYLOAD_TOO_LARGE", "request body is larger than the limit");
    if (Array.isArray(fe.validation)) return validationError(fe.validation, fe.message);
    if (fe.statusCode === 401) return new P2PError("UNAUTHORIZED", "authentication required");
    if (fe.statusCode === 404) return new P2PError("NOT_FOUND", `route ${request.method} ${request.url.split("?")[0]} not found`);
    if (fe.statusCode === 429) return new P2PError("RATE_LIMITED", "too many requests");
    const known = typeof fe.code === "string" ? FRAMEWORK_MESSAGES.get(fe.code) : undefined;
    return new P2PError("BAD_REQUEST", known ?? (err instanceof SyntaxError ? "body is not valid JSON" : "malformed request"));
  }
  return toP2PError(err);
}

/** A route schema refused the request: INVALID_PARAMS when the issue is in `params`, capped. */
function validationError(issues: unknown[], message: string | undefined): P2PError {
  const pathOf = (v: unknown) => (v && typeof v === "object" && typeof (v as { instancePath?: unknown }).instancePath === "string" ? (v as { instancePath: string }).instancePath : "");
  const onParams = issues.some((v) => pathOf(v).startsWith("/params"));
  const text = message && message.length <= 500 ? message : "request does not match the route's schema";
  return new P2PError(onParams ? "INVALID_PARAMS" : "BAD_REQUEST", text);
}

export function errorEnvelope(error: P2PError, id?: string | number | null): ErrorEnvelope {
  return id === undefined ? { error: error.toJSON() } : { id, error: error.toJSON() };
}

/** Sends an error; INTERNAL errors not raised by a service method are logged with their stack and answered without it. */
export function sendError(reply: FastifyReply, err: unknown, logger: Logger, id?: string | number | null): FastifyReply {
  const error = toHttpError(err, reply.request);
  if (error.code === "INTERNAL" && !(err instanceof P2PError)) {
    logger.error({ err, route: reply.request.routeOptions?.url }, "unexpected error while serving a request");
    return reply.status(500).send(errorEnvelope(new P2PError("INTERNAL", "internal error"), id));
  }
  return reply.status(error.status).send(errorEnvelope(error, id));
}
