import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from "fastify";
import { P2PError } from "../errors.js";
import { VERSION } from "../version.js";
import type { Logger } from "../log.js";
import { sendError } from "./errors.js";
import { withServicePaths } from "../observe/openapi-catalogue.js";
import type { ServiceCatalogue } from "../observe/service-catalogue.js";

type OpenApiDocument = Parameters<typeof withServicePaths>[0];

const DOCS_PREFIX = "/docs";
/** Marks the node's own /docs routes, which are not part of the document. */
const DOCS_ROUTE = Symbol("p2p-docs-route");

/** The schema parts Fastify validates a request against. */
const REQUEST_PARTS = ["params", "querystring", "headers", "body"] as const;

export interface DocsOptions {
  catalogue: ServiceCatalogue;
  logger: Logger;
  isDraining(): boolean;
  /** Notes an answer that refused bad input (the node's onSend hook does not see the docs app's answers). */
  noteBadInput(request: FastifyRequest, statusCode: number): void;
}

export interface Docs {
  /** The OpenAPI document with one path per method running in the cluster (schemas fetched first). */
  document(): Promise<OpenApiDocument>;
}

/**
 * OpenAPI at /openapi.json and the Swagger UI at /docs, loaded on first use. @fastify/swagger,
 * the Swagger UI, @fastify/static and their dependencies (YAML, glob...) cost a node about 2 MiB
 * of heap, and most nodes never serve either. So the node only records its routes as they are
 * added (what @fastify/swagger reads); the first request for the document or the UI builds a
 * separate Fastify instance holding the same routes (handlers and validation left out) with
 * @fastify/swagger and the UI registered exactly as before, and /docs requests are handed to it.
 * Both answer as before: same document, same files and headers, the same 404 envelope. Call
 * before any route is added.
 */
export function registerDocs(app: FastifyInstance, options: DocsOptions): Docs {
  const routes: RouteOptions[] = [];
  app.addHook("onRoute", (route) => {
    if ((route.config as Record<symbol, unknown> | undefined)?.[DOCS_ROUTE] === true) return;
    if (route.config?.checkedByHandler !== true || !route.schema) return void routes.push(route);
    // The handler checks the request itself: the document keeps the whole schema (a copy of the
    // route), the node's route gets no request parts, so Fastify compiles no validator for them
    // and calls none per request (each would be a no-op).
    routes.push({ ...route });
    const schema: Record<string, unknown> = { ...route.schema };
    for (const part of REQUEST_PARTS) delete schema[part];
    route.schema = schema;
  });
  let building: Promise<FastifyInstance> | null = null;
  const docsApp = (): Promise<FastifyInstance> => {
    building ??= buildDocsApp(routes, options).catch((err: unknown) => {
      building = null; // the next request tries again
      throw err;
    });
    return building;
  };
  const forward = async (request: FastifyRequest, reply: FastifyReply) => {
    let docs: FastifyInstance;
    try {
      docs = await docsApp();
    } catch (err) {
      return sendError(reply, err, options.logger);
    }
    reply.hijack();
    reply.raw.once("finish", () => options.noteBadInput(request, reply.raw.statusCode));
    docs.routing(request.raw, reply.raw);
  };
  const config = { access: "public" as const, [DOCS_ROUTE]: true };
  app.get(DOCS_PREFIX, { config, schema: { hide: true } }, forward);
  app.get(`${DOCS_PREFIX}/*`, { config, schema: { hide: true } }, forward);
  return {
    async document() {
      const docs = await docsApp();
      await options.catalogue.refresh();
      return withServicePaths(docs.swagger() as OpenApiDocument, options.catalogue.services());
    },
  };
}

async function buildDocsApp(routes: RouteOptions[], options: DocsOptions): Promise<FastifyInstance> {
  const [{ default: Fastify }, { default: swagger }, { default: swaggerUi }] = await Promise.all([import("fastify"), import("@fastify/swagger"), import("@fastify/swagger-ui")]);
  // Every route is added again as the node added it, for the document only (HEAD routes are made
  // from GET routes here as there).
  const docs = Fastify({ logger: false });
  docs.setValidatorCompiler(() => () => true);
  docs.setSerializerCompiler(() => (data) => JSON.stringify(data));
  docs.addHook("onSend", async (_request, reply) => {
    if (options.isDraining()) reply.header("connection", "close");
  });
  docs.setErrorHandler((err, _request, reply) => sendError(reply, err, options.logger));
  docs.setNotFoundHandler((request, reply) => sendError(reply, new P2PError("NOT_FOUND", `route ${request.method} ${request.url.split("?")[0]} not found`), options.logger));
  await docs.register(swagger, {
    openapi: {
      openapi: "3.0.3",
      info: { title: "P2P Core node API", version: VERSION, description: "The HTTP API of a P2P Core node. Any node answers for the whole cluster. Every service method running anywhere in the cluster is listed under its own path /rpc/{service}/{method}; the list follows services as they start and stop." },
      components: { securitySchemes: { bearerAuth: { type: "http", scheme: "bearer", bearerFormat: "JWT" } } },
    },
  });
  const unused = async () => null;
  for (const route of routes) {
    if (route.method === "HEAD") continue;
    docs.route({ method: route.method, url: route.url, schema: route.schema, config: route.config, handler: unused });
  }
  // The Swagger UI reads the same live document as /openapi.json: schemas are fetched first.
  await docs.register(swaggerUi, {
    routePrefix: DOCS_PREFIX,
    uiHooks: { onRequest: async () => options.catalogue.refresh() },
    transformSpecification: (spec) => withServicePaths(spec as OpenApiDocument, options.catalogue.services()),
  });
  await docs.ready();
  return docs;
}
