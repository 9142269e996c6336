import Fastify, { type FastifyInstance, type FastifyReply } from "fastify";
import type { IncomingMessage } from "node:http";
import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import { P2PError } from "../errors.js";
import { VERSION } from "../version.js";
import type { ApiContext } from "./context.js";
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

/** Bytes of an oversized body read and thrown away before the connection is cut. */
const MAX_DRAIN_BYTES = 64 * 1024 * 1024;

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

/** The node's HTTP API: every route with a schema, OpenAPI at /openapi.json, Swagger UI at /docs. */
export async function buildApp(ctx: ApiContext): Promise<FastifyInstance> {
  const app = Fastify({
    logger: false,
    bodyLimit: ctx.config.bodyLimitBytes,
    // Time-outs so slow or stuck clients cannot hold sockets forever.
    connectionTimeout: 0,
    requestTimeout: ctx.config.maxRpcTimeoutMs + 60_000,
    keepAliveTimeout: 72_000,
    return503OnClosing: false,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false } },
  });

  // Clients that send JSON without a content type (or with another one) are parsed as JSON too,
  // with the same prototype-poisoning protection as the default parser.
  app.addContentTypeParser("*", { parseAs: "string" }, app.getDefaultJsonParser("error", "error"));

  await app.register(swagger, {
    openapi: {
      openapi: "3.0.3",
      info: { title: "P2P Core node API", version: VERSION, description: "Routes of one P2P Core node (CONTRACT §4)" },
      components: { securitySchemes: { bearerAuth: { type: "http", scheme: "bearer", bearerFormat: "JWT" } } },
    },
  });
  await app.register(swaggerUi, { routePrefix: "/docs" });

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

  app.get("/openapi.json", { config: { access: "public" }, schema: { hide: true } }, async () => app.swagger());
  return app;
}
