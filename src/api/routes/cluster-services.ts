import type { FastifyInstance } from "fastify";
import type { ApiContext } from "../context.js";
import { authErrors, bearer, methodDescriptionSchema } from "../schemas.js";

const body = {
  type: "object",
  properties: {
    services: {
      type: "array",
      items: {
        type: "object",
        properties: {
          name: { type: "string" },
          description: { type: "string" },
          nodes: {
            type: "array",
            items: {
              type: "object",
              properties: {
                node_id: { type: "string" },
                version: { type: "string" },
                status: { type: "string", description: "running, failed (with error), or the node's state when it is not alive" },
                error: { type: "string" },
                artifact: { type: "string" },
              },
            },
          },
          methods: { type: "array", items: methodDescriptionSchema },
        },
      },
    },
  },
} as const;

export function clusterServicesRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get(
    "/cluster/services",
    {
      config: { access: "client" },
      schema: {
        tags: ["cluster"],
        summary: "Every service in the cluster: where it runs, its versions and its methods",
        description:
          "Per service: each node hosting it (version, status — `failed` with the error when it could not load there) and " +
          "each method with its description, whether clients may call it (`public`), `idempotent`, `cache` and the JSON " +
          "schema of its params (null when it declares none).",
        security: bearer,
        response: { 200: body, ...authErrors },
      },
    },
    async () => {
      await ctx.catalogue.refresh();
      return { services: ctx.catalogue.services() };
    },
  );
}
