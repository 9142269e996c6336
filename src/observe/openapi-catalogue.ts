import type { ServiceDescription } from "./service-catalogue.js";

type OpenApiDocument = { paths?: Record<string, Record<string, unknown>>; tags?: { name: string; description?: string }[] } & Record<string, unknown>;

/** The generic RPC route as the node documents it; each method's own path starts from it. */
const GENERIC_RPC_PATH = "/rpc/{service}/{method}";

/**
 * Adds one path per method of every service running in the cluster (`/rpc/{service}/{method}`
 * with the real names), with its description, params schema, who may call it, idempotency and
 * caching, so /docs lists each endpoint the way it lists the node's own routes.
 */
export function withServicePaths(spec: OpenApiDocument, services: ServiceDescription[]): OpenApiDocument {
  const generic = spec.paths?.[GENERIC_RPC_PATH]?.post as Record<string, unknown> | undefined;
  const inherited = generic ? { parameters: ((generic.parameters as { in?: string }[] | undefined) ?? []).filter((p) => p.in !== "path"), responses: generic.responses } : {};
  const paths: Record<string, Record<string, unknown>> = { ...spec.paths };
  const tags = [...(spec.tags ?? [])];
  for (const service of services) {
    if (service.methods.length === 0) continue;
    tags.push({ name: service.name, description: serviceText(service) });
    for (const m of service.methods) {
      const flags = [m.public ? "public (client or admin token)" : "admin only", m.idempotent ? "idempotent (retried on another node on failure)" : "not idempotent", m.cache ? `results cached ${m.cache.ttl_s} s` : null]
        .filter(Boolean)
        .join("; ");
      paths[`/rpc/${service.name}/${m.name}`] = {
        post: {
          ...inherited,
          tags: [service.name],
          operationId: `${service.name}.${m.name}`,
          summary: m.description || `${service.name}.${m.name}`,
          description: `${m.description ? `${m.description}\n\n` : ""}${flags}.`,
          security: [{ bearerAuth: [] }],
          requestBody: {
            required: false,
            content: {
              "application/json": {
                schema: {
                  type: "object",
                  properties: { params: m.params ?? { type: "object", additionalProperties: true }, id: { oneOf: [{ type: "string" }, { type: "number" }] } },
                },
              },
            },
          },
          "x-p2p-public": m.public,
          "x-p2p-idempotent": m.idempotent,
          "x-p2p-cache": m.cache,
        },
      };
    }
  }
  return { ...spec, paths, tags };
}

function serviceText(service: ServiceDescription): string {
  const where = service.nodes.map((n) => `${n.node_id} (${n.version || n.status})`).join(", ");
  return `${service.description ? `${service.description}. ` : ""}Runs on: ${where || "no node"}.`;
}
