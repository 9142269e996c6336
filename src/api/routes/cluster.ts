import type { FastifyInstance } from "fastify";
import type { ApiContext } from "../context.js";
import type { MemberView } from "../../cluster/types.js";
import { authErrors, bearer, nodeSchema } from "../schemas.js";

/** The contract's Node shape, plus version, uptime, load, labels, service versions, failed services and certificate expiry. */
export function nodeView(m: MemberView): Record<string, unknown> {
  const view: Record<string, unknown> = {
    node_id: m.nodeId,
    role: m.meta?.role ?? "worker",
    address: m.address,
    state: m.state,
    incarnation: m.incarnation,
    services: (m.meta?.services ?? []).map((s) => s.name),
    last_change: new Date(m.lastChange).toISOString(),
  };
  if (m.meta) {
    view.version = m.meta.version;
    if (m.meta.load) view.load = m.meta.load;
    view.labels = m.meta.labels ?? {};
    view.uptime_s = Math.max(0, Math.round((Date.now() - m.meta.started_at) / 1000));
    view.service_versions = Object.fromEntries(m.meta.services.map((s) => [s.name, s.version]));
    view.failed_services = m.meta.failed_services ?? [];
    if (m.meta.cert_expires !== undefined) view.cert_expires = new Date(m.meta.cert_expires).toISOString();
  }
  return view;
}

/** The /cluster/status body (also the greeting of /cluster/events). */
export function clusterStatus(ctx: ApiContext): Record<string, unknown> {
  return {
    node_id: ctx.config.nodeId,
    role: ctx.config.role,
    leader: ctx.registry.leader(),
    members: ctx.registry.stateCounts(),
    coordinators: ctx.registry.coordinators(),
    services: ctx.registry.serviceMap(),
    versions: serviceVersions(ctx),
  };
}

/** service → node → version, over alive nodes: mixed versions after a partial upgrade show at a glance. */
function serviceVersions(ctx: ApiContext): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  for (const m of ctx.registry.members()) {
    if (m.state !== "alive" || !m.meta) continue;
    for (const s of m.meta.services) (out[s.name] ??= {})[m.nodeId] = s.version;
  }
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => a.localeCompare(b)));
}

export function clusterRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get(
    "/cluster/nodes",
    {
      config: { access: "client" },
      schema: {
        tags: ["cluster"],
        summary: "Every member this node knows, itself included",
        security: bearer,
        response: { 200: { type: "object", properties: { nodes: { type: "array", items: nodeSchema } } }, ...authErrors },
      },
    },
    async () => ({ nodes: ctx.registry.members().map(nodeView) }),
  );

  app.get(
    "/cluster/status",
    {
      config: { access: "client" },
      schema: {
        tags: ["cluster"],
        summary: "Leader, member counts by state, coordinators and where each service runs",
        security: bearer,
        response: {
          200: {
            type: "object",
            properties: {
              node_id: { type: "string" },
              role: { type: "string" },
              leader: { type: ["string", "null"] },
              members: {
                type: "object",
                properties: { alive: { type: "integer" }, suspect: { type: "integer" }, dead: { type: "integer" }, left: { type: "integer" } },
              },
              coordinators: { type: "array", items: { type: "string" } },
              services: { type: "object", description: "service → ids of the alive nodes running it", additionalProperties: { type: "array", items: { type: "string" } } },
              versions: {
                type: "object",
                description: "service → node id → the version that node runs",
                additionalProperties: { type: "object", additionalProperties: { type: "string" } },
              },
            },
          },
          ...authErrors,
        },
      },
    },
    async () => clusterStatus(ctx),
  );
}
