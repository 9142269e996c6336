import type { FastifyInstance, FastifyReply } from "fastify";
import { P2PError } from "../../errors.js";
import { newTraceId, traceIdOf, type CallContext } from "../../rpc/context.js";
import { Cancellation } from "../../rpc/cancellation.js";
import type { ApiContext } from "../context.js";
import { authErrors, bearer, errorSchema } from "../schemas.js";
import { sendError } from "../errors.js";
import { RateLimiter } from "../rate-limit.js";
import { BALANCER_NAMES } from "../../rpc/balancers/index.js";
import type { BalancerName } from "../../rpc/balancers/types.js";

function isBalancerName(value: string): value is BalancerName {
  return (BALANCER_NAMES as readonly string[]).includes(value);
}

interface RpcBody {
  params?: unknown;
  id?: unknown;
}

const NAME = "^[A-Za-z_][A-Za-z0-9_-]{0,63}$";

/** Parses x-p2p-timeout-ms: a positive number of milliseconds (a fraction is rounded up) up to the configured maximum. */
function timeoutFrom(header: string | string[] | undefined, fallback: number, max: number): number {
  if (header === undefined) return fallback;
  const value = Array.isArray(header) ? header[0]! : header;
  if (!/^\d{1,10}(\.\d{1,6})?$/.test(value.trim())) throw new P2PError("BAD_REQUEST", "x-p2p-timeout-ms must be a positive number of milliseconds");
  const ms = Math.ceil(Number(value));
  if (ms < 1 || ms > max) throw new P2PError("BAD_REQUEST", `x-p2p-timeout-ms must be between 1 and ${max}`);
  return ms;
}

export function rpcRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const { config, router, registry, clock, inflight } = ctx;
  const limiter = config.rateLimitPerSecond > 0 ? new RateLimiter({ ratePerSecond: config.rateLimitPerSecond, now: () => clock.now() }) : null;

  app.post<{ Params: { service: string; method: string }; Querystring: { node?: string }; Body: RpcBody | undefined }>(
    "/rpc/:service/:method",
    {
      config: { access: "client" },
      // The envelope is checked by hand below (precise codes, no second validation pass); the
      // schema documents it in OpenAPI.
      validatorCompiler: () => () => true,
      schema: {
        tags: ["rpc"],
        summary: "Call a service method anywhere in the cluster",
        security: bearer,
        params: { type: "object", properties: { service: { type: "string", pattern: NAME }, method: { type: "string", pattern: NAME } } },
        querystring: { type: "object", properties: { node: { type: "string", description: "run on this node only" } } },
        headers: {
          type: "object",
          properties: {
            "x-p2p-timeout-ms": { type: "string", description: "deadline in ms (default 30000), carried on every hop" },
            traceparent: { type: "string", description: "W3C trace context" },
            "x-p2p-balancer": { type: "string", enum: ["least-latency", "round-robin", "random"], description: "balancing strategy for this call" },
          },
        },
        body: {
          type: "object",
          properties: { params: { type: "object", additionalProperties: true }, id: { type: ["string", "number"] }, method: {} },
        },
        response: {
          200: { type: "object", properties: { id: {}, result: {} } },
          400: errorSchema,
          ...authErrors,
          404: errorSchema,
          413: errorSchema,
          429: errorSchema,
          500: errorSchema,
          503: errorSchema,
          504: errorSchema,
        },
      },
    },
    async (request, reply) => {
      const body = request.body;
      let id: string | number | null = null;
      const fail = (err: unknown): FastifyReply => {
        reply.header("x-p2p-node", err instanceof P2PError && err.answeredBy ? err.answeredBy : config.nodeId);
        return sendError(reply, err, ctx.logger, id);
      };
      // A draining node still takes calls: the router forwards them to other hosts.
      // Keyed on what the caller cannot mint at will: the credential behind its token and its address.
      const rateKey = `${request.caller!.kid ?? "jwt-secret"} ${request.ip}`;
      if (limiter && !limiter.take(rateKey)) {
        reply.header("retry-after", String(limiter.retryAfterSeconds(rateKey)));
        return fail(new P2PError("RATE_LIMITED", `over ${config.rateLimitPerSecond} calls per second`));
      }
      if (body !== undefined && (body === null || typeof body !== "object" || Array.isArray(body))) {
        return fail(new P2PError("BAD_REQUEST", "body must be a JSON object"));
      }
      if (body?.id !== undefined) {
        if (typeof body.id !== "string" && typeof body.id !== "number") return fail(new P2PError("BAD_REQUEST", "id must be a string or a number"));
        id = body.id;
      }
      // Absent params mean none; `null` is not an object.
      const params = body?.params === undefined ? {} : body.params;
      if (params === null || typeof params !== "object" || Array.isArray(params)) {
        return fail(new P2PError("INVALID_PARAMS", "params must be a JSON object"));
      }
      const node = request.query.node;
      if (node !== undefined && (typeof node !== "string" || node.length === 0)) return fail(new P2PError("BAD_REQUEST", "node must be a node id"));
      try {
        const timeoutMs = timeoutFrom(request.headers["x-p2p-timeout-ms"], registry.method(request.params.service, request.params.method)?.timeout_ms ?? config.rpcTimeoutMs, config.maxRpcTimeoutMs);
        const traceparent = request.headers.traceparent;
        const tp = typeof traceparent === "string" ? traceparent : undefined;
        const balancer = request.headers["x-p2p-balancer"];
        if (balancer !== undefined && !(typeof balancer === "string" && isBalancerName(balancer))) {
          throw new P2PError("BAD_REQUEST", `x-p2p-balancer must be one of ${BALANCER_NAMES.join(", ")}`);
        }
        // The client hanging up aborts the call (this.call.signal in the method, link cancel to another node).
        const gone = new Cancellation();
        reply.raw.once("close", () => {
          if (!reply.raw.writableEnded) gone.cancel(new P2PError("UNAVAILABLE", "the client went away"));
        });
        const callCtx: CallContext = {
          cancel: gone,
          ...(balancer ? { balancer } : {}),
          caller: request.caller!,
          deadline: clock.now() + timeoutMs,
          traceId: traceIdOf(tp) ?? newTraceId(),
          ...(tp && traceIdOf(tp) ? { traceparent: tp } : {}),
        };
        const out = await inflight.track(() => router.call(callCtx, request.params.service, request.params.method, params as Record<string, unknown>, node === undefined ? {} : { node }));
        reply.header("x-p2p-node", out.nodeId);
        return { id, result: out.result === undefined ? null : out.result };
      } catch (err) {
        return fail(err);
      }
    },
  );
}
