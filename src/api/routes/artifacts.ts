import type { FastifyInstance } from "fastify";
import { P2PError } from "../../errors.js";
import { actorOf } from "../actor.js";
import type { ApiContext } from "../context.js";
import { authErrors, bearer, errorSchema } from "../schemas.js";
import { ArchiveError } from "../../deploy/tar.js";
import { MAX_ARTIFACT_BYTES } from "../../deploy/artifact-store.js";

/** PUT /admin/artifacts/{sha256}: the body is the raw .tar.gz, whatever its content type. */
export async function artifactRoutes(app: FastifyInstance, ctx: ApiContext): Promise<void> {
  await app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser("*", { parseAs: "buffer", bodyLimit: MAX_ARTIFACT_BYTES }, (_req, body, done) => done(null, body));
    scope.put<{ Params: { sha256: string }; Body: Buffer }>(
      "/admin/artifacts/:sha256",
      {
        bodyLimit: MAX_ARTIFACT_BYTES,
        config: { access: "admin" },
        schema: {
          tags: ["deploy"],
          summary: "Upload a service artifact (.tar.gz of the service folder, main.js or main.ts at its root), addressed by its SHA-256",
          description:
            "At most 50 MiB (413 above), unpacking to at most 200 MiB. Entries must be files or folders inside the archive: absolute paths, `..`, links and devices are refused (400), as is a body whose SHA-256 differs. An optional header `x-p2p-signature` carries the base64 Ed25519 signature of the body (checked by nodes started with --release-key).",
          security: bearer,
          params: { type: "object", properties: { sha256: { type: "string" } }, required: ["sha256"] },
          response: {
            201: { type: "object", properties: { sha256: { type: "string" }, size: { type: "integer" } } },
            400: errorSchema,
            ...authErrors,
            413: errorSchema,
          },
        },
      },
      async (request, reply) => {
        const deploy = ctx.deploy;
        if (!deploy) throw new P2PError("UNAVAILABLE", "deployment is not enabled on this node");
        const body = request.body;
        if (!Buffer.isBuffer(body) || body.length === 0) throw new P2PError("BAD_REQUEST", "body must be the artifact's .tar.gz bytes");
        const signature = parseSignature(request.headers["x-p2p-signature"]);
        try {
          const stored = await deploy.putArtifact(request.params.sha256, body, signature, actorOf(request));
          return reply.status(201).send(stored);
        } catch (err) {
          if (err instanceof ArchiveError) throw new P2PError("BAD_REQUEST", err.message);
          throw err;
        }
      },
    );
  });
}

function parseSignature(header: string | string[] | undefined): Buffer | undefined {
  if (header === undefined) return undefined;
  const value = Array.isArray(header) ? header[0] ?? "" : header;
  const bytes = /^[A-Za-z0-9+/]+={0,2}$/.test(value.trim()) ? Buffer.from(value.trim(), "base64") : null;
  if (!bytes || bytes.length !== 64) throw new P2PError("BAD_REQUEST", "x-p2p-signature must be a base64 Ed25519 signature (64 bytes)");
  return bytes;
}
