import type { FastifyInstance } from "fastify";
import { P2PError } from "../../errors.js";
import { actorOf } from "../actor.js";
import type { ApiContext } from "../context.js";
import { authErrors, bearer, errorSchema } from "../schemas.js";
import { checkPlacement, SERVICE_NAME } from "../../deploy/record-check.js";
import { isSha256 } from "../../deploy/artifact-store.js";
import type { DeployManager } from "../../deploy/manager.js";

const nodeStateSchema = {
  type: "object",
  properties: { state: { type: "string", enum: ["pending", "starting", "running", "failed", "stopped"] }, artifact: { type: ["string", "null"] }, error: { type: "string" } },
} as const;

const deploymentSchema = {
  type: "object",
  properties: {
    service: { type: "string" },
    artifact: { type: "string" },
    version: { type: ["string", "null"] },
    generation: { type: "integer" },
    placement: { type: "object", additionalProperties: true },
    status: { type: "string", enum: ["rolling", "ready", "failed", "rolled_back"] },
    nodes: { type: "object", additionalProperties: nodeStateSchema },
    message: { type: "string", description: "set when fewer nodes match the placement than it asks for" },
    updated_by: { type: "string" },
    updated_at: { type: "string" },
  },
} as const;

const accepted = { type: "object", properties: { service: { type: "string" }, generation: { type: "integer" }, status: { type: "string" } } } as const;
const serviceParam = { type: "object", properties: { service: { type: "string" } }, required: ["service"] } as const;
const errors = { 400: errorSchema, ...authErrors, 404: errorSchema, 409: errorSchema, 503: errorSchema };

function manager(ctx: ApiContext): DeployManager {
  if (!ctx.deploy) throw new P2PError("UNAVAILABLE", "deployment is not enabled on this node");
  return ctx.deploy;
}

/** /admin/deployments: desired state writes (202 once another node holds them) and status reads. */
export function deploymentRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.post<{ Body: { service: string; artifact: string; placement?: unknown } }>(
    "/admin/deployments",
    {
      config: { access: "admin" },
      schema: {
        tags: ["deploy"],
        summary: "Deploy (or update) a service: an uploaded artifact and a placement; rolls out one node at a time",
        description: 'placement: {"nodes":[ids]} or {"role"?,"labels"?:{k:v},"count"?:N} (default: every node). 409 CONFLICT over a static service.',
        security: bearer,
        body: {
          type: "object",
          properties: { service: { type: "string" }, artifact: { type: "string" }, placement: { type: "object", additionalProperties: true } },
          required: ["service", "artifact"],
        },
        response: { 202: accepted, ...errors },
      },
    },
    async (request, reply) => {
      const { service, artifact } = request.body;
      if (!SERVICE_NAME.test(service)) throw new P2PError("BAD_REQUEST", `service name "${service}" must match ${SERVICE_NAME}`);
      if (!isSha256(artifact)) throw new P2PError("BAD_REQUEST", "artifact must be a SHA-256 in lower-case hex");
      const placement = checkPlacement(request.body.placement ?? {});
      if (typeof placement === "string") throw new P2PError("BAD_REQUEST", placement);
      const view = await manager(ctx).deploy(service, artifact, placement, actorOf(request));
      return reply.status(202).send({ service: view.service, generation: view.generation, status: "rolling" });
    },
  );

  app.get(
    "/admin/deployments",
    { config: { access: "admin" }, schema: { tags: ["deploy"], summary: "Every deployment with its status per node", security: bearer, response: { 200: { type: "object", properties: { deployments: { type: "array", items: deploymentSchema } } }, ...authErrors } } },
    async () => ({ deployments: manager(ctx).list() }),
  );

  app.get<{ Params: { service: string } }>(
    "/admin/deployments/:service",
    { config: { access: "admin" }, schema: { tags: ["deploy"], summary: "One deployment with its status per node", security: bearer, params: serviceParam, response: { 200: { type: "object", properties: { deployments: { type: "array", items: deploymentSchema } } }, ...errors } } },
    async (request) => ({ deployments: [manager(ctx).view(request.params.service)] }),
  );

  app.delete<{ Params: { service: string } }>(
    "/admin/deployments/:service",
    { config: { access: "admin" }, schema: { tags: ["deploy"], summary: "Stop and remove a deployed service everywhere", security: bearer, params: serviceParam, response: { 202: accepted, ...errors } } },
    async (request, reply) => {
      const view = await manager(ctx).undeploy(request.params.service, actorOf(request));
      return reply.status(202).send({ service: view.service, generation: view.generation, status: "removing" });
    },
  );

  app.post<{ Params: { service: string } }>(
    "/admin/deployments/:service/rollback",
    { config: { access: "admin" }, schema: { tags: ["deploy"], summary: "Return a deployment to its previous artifact", security: bearer, params: serviceParam, response: { 202: accepted, ...errors } } },
    async (request, reply) => {
      const view = await manager(ctx).rollback(request.params.service, actorOf(request));
      return reply.status(202).send({ service: view.service, generation: view.generation, status: "rolling" });
    },
  );
}
