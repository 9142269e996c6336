import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { P2PError } from "../../errors.js";
import type { Logger } from "../../log.js";
import { sendError } from "../errors.js";
import { UiAssets, contentSecurityPolicy, type Asset } from "../ui-assets.js";

/** Headers every dashboard response carries. */
const COMMON_HEADERS = {
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-resource-policy": "same-origin",
  "x-frame-options": "DENY",
};

function acceptsGzip(request: FastifyRequest): boolean {
  const accept = request.headers["accept-encoding"];
  return typeof accept === "string" && /\bgzip\b/.test(accept);
}

function sendAsset(request: FastifyRequest, reply: FastifyReply, asset: Asset): FastifyReply {
  reply.headers(COMMON_HEADERS);
  reply.header("content-security-policy", contentSecurityPolicy(asset.scriptHashes));
  reply.header("content-type", asset.contentType);
  reply.header("etag", asset.etag);
  // Revalidate every time (a cheap 304): the files change with the installed version.
  reply.header("cache-control", "no-cache");
  reply.header("vary", "accept-encoding");
  if (request.headers["if-none-match"] === asset.etag) return reply.status(304).send();
  if (asset.gzip && acceptsGzip(request)) {
    reply.header("content-encoding", "gzip");
    return reply.send(asset.gzip);
  }
  return reply.send(asset.body);
}

/**
 * The web dashboard at /ui/: static files, public (the page holds no data; every data route it
 * calls keeps its own auth). Files are read lazily on first request.
 */
export function uiRoutes(app: FastifyInstance, logger: Logger, assets = new UiAssets()): void {
  const route = { config: { access: "public" as const }, schema: { hide: true } };

  app.get("/ui", route, async (_request, reply) => reply.headers(COMMON_HEADERS).redirect("/ui/", 308));

  app.get<{ Params: { "*": string } }>("/ui/*", route, async (request, reply) => {
    const asset = await assets.get(request.params["*"]);
    if (!asset) return sendError(reply, new P2PError("NOT_FOUND", `no dashboard file ${request.url.split("?")[0]}`), logger);
    return sendAsset(request, reply, asset);
  });
}
