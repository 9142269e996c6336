import type { FastifyInstance } from "fastify";
import type { ApiContext } from "../context.js";
import { authErrors, bearer } from "../schemas.js";

export function localRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get(
    "/local/services",
    {
      config: { access: "client" },
      schema: {
        tags: ["node"],
        summary: "Services running on this node and their methods",
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
                    description: { type: "string" },
                    status: { type: "string" },
                    methods: {
                      type: "array",
                      items: {
                        type: "object",
                        additionalProperties: true,
                        properties: { name: { type: "string" }, description: { type: "string" }, public: { type: "boolean" } },
                      },
                    },
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
      services: ctx.local.list().map((s) => ({
        name: s.name,
        version: s.version,
        description: s.description,
        status: s.status,
        methods: [...s.methods.values()].map(({ descriptor: d }) => ({
          name: d.name,
          description: d.description ?? "",
          public: d.public === true,
          idempotent: d.idempotent === true,
          ...(d.cache ? { cache: d.cache } : {}),
          ...(d.params ? { params: d.params } : {}),
        })),
      })),
    }),
  );
}
