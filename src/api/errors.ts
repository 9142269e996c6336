import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { P2PError, toP2PError, type WireError } from "../errors.js";
import type { Logger } from "../log.js";

export interface ErrorEnvelope {
  id?: string | number | null;
  error: WireError;
}

/** Maps anything thrown while serving a request to the catalog, once, for every route. */
export function toHttpError(err: unknown, request: FastifyRequest): P2PError {
  if (err instanceof P2PError) return err;
  const fe = err as Partial<FastifyError> & { validation?: { instancePath?: string }[] };
  if (fe && typeof fe === "object" && typeof fe.statusCode === "number" && fe.statusCode < 500) {
    if (fe.statusCode === 413) return new P2PError("PAYLOAD_TOO_LARGE", "request body is larger than the limit");
    if (fe.validation) {
      const onParams = fe.validation.some((v) => (v.instancePath ?? "").startsWith("/params"));
      return new P2PError(onParams ? "INVALID_PARAMS" : "BAD_REQUEST", fe.message ?? "invalid request");
    }
    if (fe.statusCode === 401) return new P2PError("UNAUTHORIZED", "authentication required");
    if (fe.statusCode === 404) return new P2PError("NOT_FOUND", `route ${request.method} ${request.url} not found`);
    if (fe.statusCode === 429) return new P2PError("RATE_LIMITED", "too many requests");
    return new P2PError("BAD_REQUEST", fe.code === "FST_ERR_CTP_EMPTY_JSON_BODY" ? "body is empty" : "body is not valid JSON");
  }
  return toP2PError(err);
}

export function errorEnvelope(error: P2PError, id?: string | number | null): ErrorEnvelope {
  return id === undefined ? { error: error.toJSON() } : { id, error: error.toJSON() };
}

/** Sends an error; INTERNAL errors not raised by a service method are logged with their stack and answered without it. */
export function sendError(reply: FastifyReply, err: unknown, logger: Logger, id?: string | number | null): FastifyReply {
  const error = toHttpError(err, reply.request);
  if (error.code === "INTERNAL" && !(err instanceof P2PError)) {
    logger.error({ err, route: reply.request.routeOptions.url }, "unexpected error while serving a request");
    return reply.status(500).send(errorEnvelope(new P2PError("INTERNAL", "internal error"), id));
  }
  return reply.status(error.status).send(errorEnvelope(error, id));
}
