import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import type { IncomingMessage } from "node:http";
import { P2PError } from "../errors.js";
import type { ApiContext } from "./context.js";
import type { Clock } from "../util/clock.js";
import { registerAuth } from "./auth-hook.js";
import { sendError } from "./errors.js";
import { healthRoutes } from "./routes/health.js";
import { authRoutes } from "./routes/auth.js";
import { clusterRoutes } from "./routes/cluster.js";
import { localRoutes } from "./routes/local.js";
import { rpcRoutes } from "./routes/rpc.js";
import { adminRoutes } from "./routes/admin.js";
import { eventRoutes } from "./routes/events.js";
import { artifactRoutes } from "./routes/artifacts.js";
import { registerJsonBody } from "./json-body.js";
import { BadInputLog } from "./bad-input-log.js";
import { clientErrorHandler } from "./client-errors.js";
import { clusterMetricsRoutes } from "./routes/cluster-metrics.js";
import { uiRoutes } from "./routes/ui.js";
import { registerOriginCheck } from "./origin-check.js";
import { clusterServicesRoutes } from "./routes/cluster-services.js";
import { registerDocs } from "./docs.js";
import { deploymentRoutes } from "./routes/deployments.js";

/** Bytes of an oversized body read and thrown away before the connection is cut. */
const MAX_DRAIN_BYTES = 64 * 1024 * 1024;
/**
 * Time to receive a whole request (headers and body) and its headers alone. They cover only
 * receiving: a call may then run as long as its deadline, the socket stays open for the answer.
 */
export const REQUEST_RECEIVE_TIMEOUT_MS = 30_000;
export const HEADERS_RECEIVE_TIMEOUT_MS = 10_000;
/** How often Node checks those two time-outs. */
const RECEIVE_CHECK_INTERVAL_MS = 1_000;
/** Statuses worth a (rate-limited) warning: the client sent something wrong or too much. */
const BAD_INPUT_STATUSES = new Set([400, 401, 413, 429]);

/**
 * Fastify answers 413 with `Connection: close` while the client may still be uploading; closing
 * a socket with unread data makes the kernel send a reset, and the client can lose the 413.
 * Instead: keep the connection, read and discard the rest of the body (bounded), then go on.
 */
function drainOversizedBody(raw: IncomingMessage, reply: FastifyReply): void {
  reply.removeHeader("connection");
  let drained = 0;
  raw.on("data", (chunk: Buffer) => {
    drained += chunk.length;
    if (drained > MAX_DRAIN_BYTES) raw.socket.destroy();
  });
  raw.resume();
}

/** The node's HTTP API: every route with a schema, OpenAPI at /openapi.json, Swagger UI at /docs (both loaded on first use). */
export async function buildApp(ctx: ApiContext): Promise<FastifyInstance> {
  const badInput = new BadInputLog({ logger: ctx.logger, clock: ctx.clock });
  const httpOptions = { headersTimeout: HEADERS_RECEIVE_TIMEOUT_MS, connectionsCheckingInterval: RECEIVE_CHECK_INTERVAL_MS };
  // With TLS the same options go to https.createServer (Fastify passes `http` only to a plain server).
  const transport = ctx.tls ? { https: { ...ctx.tls.serverOptions(), ...httpOptions } } : { http: httpOptions };
  const app = Fastify({
    logger: false,
    ...(transport as { http: typeof httpOptions }),
    bodyLimit: ctx.config.bodyLimitBytes,
    // Slow or stuck senders are cut once receiving takes too long; no idle time-out while a call
    // runs (its deadline bounds it), and shutdown closes whatever is left.
    connectionTimeout: 0,
    requestTimeout: REQUEST_RECEIVE_TIMEOUT_MS,
    keepAliveTimeout: 72_000,
    return503OnClosing: false,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false } },
    clientErrorHandler: clientErrorHandler(badInput, REQUEST_RECEIVE_TIMEOUT_MS),
    // Malformed URLs and the like, before routing: the same envelope as every other error.
    frameworkErrors: (err, request, reply) => {
      if (request.url.startsWith("/rpc/")) reply.header("x-p2p-node", ctx.config.nodeId);
      sendError(reply, err, ctx.logger, request.url.startsWith("/rpc/") ? null : undefined);
    },
  });
  badInput.start();
  app.addHook("onClose", async () => badInput.stop());
  const noteBadInput = (request: FastifyRequest, statusCode: number): void => {
    if (BAD_INPUT_STATUSES.has(statusCode)) badInput.note(request.ip, `${statusCode} ${request.method} ${request.routeOptions.url ?? "unknown route"}`);
  };
  // One hook on every answer, a callback (no promise, no tick): while draining, answers ask
  // keep-alive clients to go elsewhere; refusals of bad input are noted. Noted here rather than
  // in an onResponse hook, which would make Fastify watch every response's end (two listeners
  // and a time stamp per request); every answer but a hijacked one passes here.
  app.addHook("onSend", (request, reply, payload, done) => {
    if (ctx.isDraining()) reply.header("connection", "close");
    noteBadInput(request, reply.statusCode);
    done(null, payload);
  });
  registerJsonBody(app);

  // Before any route: the OpenAPI document lists the routes added from here on.
  const docs = registerDocs(app, { catalogue: ctx.catalogue, logger: ctx.logger, isDraining: ctx.isDraining, noteBadInput });

  registerOriginCheck(app, ctx.logger);
  registerAuth(app, ctx);
  app.setErrorHandler((err, request, reply) => {
    if ((err as { code?: string }).code === "FST_ERR_CTP_BODY_TOO_LARGE") drainOversizedBody(request.raw, reply);
    const body = request.body as { id?: unknown } | undefined;
    const id = request.url.startsWith("/rpc/") ? (typeof body?.id === "string" || typeof body?.id === "number" ? body.id : null) : undefined;
    if (request.url.startsWith("/rpc/")) reply.header("x-p2p-node", ctx.config.nodeId);
    return sendError(reply, err, ctx.logger, id);
  });
  app.setNotFoundHandler((request, reply) =>
    sendError(reply, new P2PError("NOT_FOUND", `route ${request.method} ${request.url.split("?")[0]} not found`), ctx.logger),
  );

  healthRoutes(app, ctx);
  authRoutes(app, ctx);
  clusterRoutes(app, ctx);
  localRoutes(app, ctx);
  rpcRoutes(app, ctx);
  adminRoutes(app, ctx);
  eventRoutes(app, ctx);
  await artifactRoutes(app, ctx);
  clusterMetricsRoutes(app, ctx);
  uiRoutes(app, ctx.logger);
  clusterServicesRoutes(app, ctx);
  deploymentRoutes(app, ctx);

  app.get("/openapi.json", { config: { access: "public" }, schema: { hide: true } }, async () => docs.document());
  return app;
}

/**
 * Closes the server within `boundMs` whatever clients do: idle keep-alive sockets at once,
 * then, past the bound, every socket still open (slow senders, answers still streaming).
 */
export async function closeApp(app: FastifyInstance, clock: Clock, boundMs: number): Promise<void> {
  app.server.closeIdleConnections();
  const timer = clock.setTimeout(() => app.server.closeAllConnections(), boundMs);
  try {
    await app.close();
  } finally {
    timer.cancel();
  }
}
