import type { FastifyInstance, FastifyReply } from "fastify";
import type { OutgoingHttpHeaders } from "node:http";
import { P2PError } from "../../errors.js";
import { newTraceId, traceIdOf, type CallContext } from "../../rpc/context.js";
import { Cancellation } from "../../rpc/cancellation.js";
import type { CallOptions } from "../../rpc/router.js";
import type { Cuttable, InflightTracker } from "../../util/inflight.js";
import type { Logger } from "../../log.js";
import { answered, watchClient } from "../client-gone.js";
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
function timeoutFrom(header: string | string[], max: number): number {
  const value = Array.isArray(header) ? header[0]! : header;
  if (!/^\d{1,10}(\.\d{1,6})?$/.test(value.trim())) throw new P2PError("BAD_REQUEST", "x-p2p-timeout-ms must be a positive number of milliseconds");
  const ms = Math.ceil(Number(value));
  if (ms < 1 || ms > max) throw new P2PError("BAD_REQUEST", `x-p2p-timeout-ms must be between 1 and ${max}`);
  return ms;
}

/** What the route sends with every answer: the node's id, its logger, whether it is draining. */
interface Answering {
  nodeId: string;
  logger: Logger;
  isDraining(): boolean;
}

/** Answers a call with an error; the x-p2p-node header names the node that answered it. */
function answerError(reply: FastifyReply, err: unknown, id: string | number | null, from: Answering): void {
  reply.header("x-p2p-node", err instanceof P2PError && err.answeredBy ? err.answeredBy : from.nodeId);
  sendError(reply, err, from.logger, id);
}

const JSON_TYPE = "application/json; charset=utf-8";
const NO_OPTIONS: CallOptions = Object.freeze({});

/**
 * One call in flight from the route to the router: answers once, with the router's outcome or,
 * at the end of a shutdown grace, with the cut's error (whichever comes first). No promise of its
 * own: the router's promise is the only one between the route and the method.
 */
class PendingCall implements Cuttable {
  constructor(
    private readonly reply: FastifyReply,
    private readonly id: string | number | null,
    private readonly gone: Cancellation,
    private readonly inflight: InflightTracker,
    private readonly from: Answering,
  ) {}

  /** False when the call was already answered (cut); else it is no longer in flight. */
  private close(): boolean {
    answered(this.reply.request.raw.socket, this.gone);
    return this.inflight.end(this);
  }

  ok(nodeId: string, value: unknown): void {
    if (!this.close()) return;
    const reply = this.reply;
    const result = value === undefined ? null : value;
    // The envelope as the route's response schema serialises it (each field with JSON.stringify).
    let payload: string | undefined;
    try {
      const text = JSON.stringify(result);
      if (text !== undefined) payload = `{"id":${JSON.stringify(this.id)},"result":${text}}`;
    } catch {
      // Not serialisable (a BigInt...): Fastify's own path below answers it, as it always did.
    }
    try {
      if (payload === undefined) {
        reply.header("x-p2p-node", nodeId).send({ id: this.id, result });
        return;
      }
      // Written to the response directly: the one answer of every successful call skips
      // Fastify's send path and its onSend hook, whose two duties are done here (a 200 is never
      // bad input; the draining header). Headers first, so a refused header leaves the reply to
      // the error handler; then the reply is Fastify's no more.
      const headers: OutgoingHttpHeaders = { "content-type": JSON_TYPE, "content-length": Buffer.byteLength(payload), "x-p2p-node": nodeId };
      if (this.from.isDraining()) headers.connection = "close";
      const res = reply.raw.writeHead(200, headers);
      reply.hijack();
      res.end(payload);
    } catch (err) {
      this.broken(err);
    }
  }

  fail(err: unknown): void {
    if (!this.close()) return;
    try {
      answerError(this.reply, err, this.id, this.from);
    } catch (error) {
      this.broken(error);
    }
  }

  /** Sending threw (what Fastify does for an async handler's answer): its error handler answers. */
  private broken(err: unknown): void {
    try {
      this.reply.send(err);
    } catch (error) {
      this.from.logger.error({ err: error }, "could not answer an /rpc call");
    }
  }

  cut(error: Error): void {
    answered(this.reply.request.raw.socket, this.gone);
    try {
      answerError(this.reply, error, this.id, this.from);
    } catch (err) {
      this.broken(err);
    }
  }
}

export function rpcRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const { config, router, registry, clock, inflight } = ctx;
  const limiter = config.rateLimitPerSecond > 0 ? new RateLimiter({ ratePerSecond: config.rateLimitPerSecond, now: () => clock.now() }) : null;
  const from: Answering = { nodeId: config.nodeId, logger: ctx.logger, isDraining: ctx.isDraining };

  app.post<{ Params: { service: string; method: string }; Querystring: { node?: string }; Body: RpcBody | undefined }>(
    "/rpc/:service/:method",
    {
      // The envelope is checked by hand below (precise codes, no validation pass per request);
      // the request schemas document it in OpenAPI.
      config: { access: "client", checkedByHandler: true },
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
    // Not async: the answer is sent when the router settles (one promise from here to the method).
    (request, reply): void => {
      const body = request.body;
      let id: string | number | null = null;
      // A draining node still takes calls: the router forwards them to other hosts.
      if (limiter) {
        // Keyed on what the caller cannot mint at will: the credential behind its token and its address.
        const rateKey = `${request.caller!.kid ?? "jwt-secret"} ${request.ip}`;
        if (!limiter.take(rateKey)) {
          reply.header("retry-after", String(limiter.retryAfterSeconds(rateKey)));
          return answerError(reply, new P2PError("RATE_LIMITED", `over ${config.rateLimitPerSecond} calls per second`), id, from);
        }
      }
      if (body !== undefined && (body === null || typeof body !== "object" || Array.isArray(body))) {
        return answerError(reply, new P2PError("BAD_REQUEST", "body must be a JSON object"), id, from);
      }
      if (body?.id !== undefined) {
        if (typeof body.id !== "string" && typeof body.id !== "number") return answerError(reply, new P2PError("BAD_REQUEST", "id must be a string or a number"), id, from);
        id = body.id;
      }
      // Absent params mean none; `null` is not an object.
      const params = body?.params === undefined ? {} : body.params;
      if (params === null || typeof params !== "object" || Array.isArray(params)) {
        return answerError(reply, new P2PError("INVALID_PARAMS", "params must be a JSON object"), id, from);
      }
      const node = request.query.node;
      if (node !== undefined && (typeof node !== "string" || node.length === 0)) return answerError(reply, new P2PError("BAD_REQUEST", "node must be a node id"), id, from);
      const { service, method } = request.params;
      const headers = request.headers;
      const meta = registry.method(service, method);
      let callCtx: CallContext;
      const gone = new Cancellation();
      try {
        const timeoutHeader = headers["x-p2p-timeout-ms"];
        const timeoutMs = timeoutHeader === undefined ? (meta?.timeout_ms ?? config.rpcTimeoutMs) : timeoutFrom(timeoutHeader, config.maxRpcTimeoutMs);
        const traceparent = headers.traceparent;
        const tp = typeof traceparent === "string" ? traceparent : undefined;
        const balancer = headers["x-p2p-balancer"];
        if (balancer !== undefined && !(typeof balancer === "string" && isBalancerName(balancer))) {
          throw new P2PError("BAD_REQUEST", `x-p2p-balancer must be one of ${BALANCER_NAMES.join(", ")}`);
        }
        const traced = traceIdOf(tp);
        callCtx = { cancel: gone, caller: request.caller!, deadline: clock.now() + timeoutMs, traceId: traced ?? newTraceId() };
        if (balancer) callCtx.balancer = balancer;
        if (traced) callCtx.traceparent = tp;
      } catch (err) {
        return answerError(reply, err, id, from);
      }
      // The client hanging up aborts the call (this.call.signal in the method, link cancel to another node).
      watchClient(request.raw.socket, gone);
      const call = new PendingCall(reply, id, gone, inflight, from);
      inflight.begin(call);
      try {
        // A method this node runs itself, with nothing on the way that could refuse or defer
        // it, takes the router's local path (one promise to the method); the rest takes call().
        const local = node === undefined && meta !== undefined ? router.callLocal(callCtx, router.ref(service, method), params as Record<string, unknown>) : null;
        if (local !== null) {
          local.then(
            (result) => call.ok(config.nodeId, result),
            (err: unknown) => call.fail(err),
          );
        } else {
          router.call(callCtx, service, method, params as Record<string, unknown>, node === undefined ? NO_OPTIONS : { node }).then(
            (out) => call.ok(out.nodeId, out.result),
            (err: unknown) => call.fail(err),
          );
        }
      } catch (err) {
        call.fail(err);
      }
    },
  );
}
