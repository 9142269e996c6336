import type { FastifyInstance } from "fastify";
import type { ApiContext } from "../context.js";
import { authErrors, bearer, methodDescriptionSchema } from "../schemas.js";
import { describeMethods } from "../../observe/service-catalogue.js";

export function localRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get(
    "/local/services",
    {
      config: { access: "client" },
      schema: {
        tags: ["node"],
        summary: "Services of this node and their methods",
        description: "Every service this node runs, with its methods; a service that failed to load or initialise is listed with status `failed` and its `error`.",
        security: bearer,
        response: {
          200: {
            type: "object",
            properties: {
              services: {
                type: "array",
                items: {
                  type: "object",
                  properties: {
                    name: { type: "string" },
                    version: { type: "string" },
                    artifact: { type: "string", description: "SHA-256 of the artifact, for a deployed service" },
                    description: { type: "string" },
                    status: { type: "string", enum: ["running", "stopped", "failed"] },
                    error: { type: "string" },
                    methods: { type: "array", items: methodDescriptionSchema },
                  },
                },
              },
            },
          },
          ...authErrors,
        },
      },
    },
    async () => ({
      services: [
        ...ctx.local.list().map((s) => ({ name: s.name, version: s.version, description: s.description, status: s.status, ...(s.artifact ? { artifact: s.artifact } : {}), methods: describeMethods(s) })),
        ...ctx.local.failures().map((f) => ({ name: f.name, version: "", description: "", status: "failed", error: f.error, methods: [] })),
      ],
    }),
  );
}
