/** JSON schemas shared by routes and the OpenAPI document. */
export const errorSchema = {
  type: "object",
  properties: {
    id: {},
    error: {
      type: "object",
      properties: { code: { type: "string" }, message: { type: "string" }, data: {} },
      required: ["code", "message"],
    },
  },
  required: ["error"],
} as const;

export const nodeSchema = {
  type: "object",
  additionalProperties: true,
  properties: {
    node_id: { type: "string" },
    role: { type: "string", enum: ["coordinator", "worker"] },
    address: { type: "string", description: "host:port (HTTP on TCP, gossip on UDP)" },
    state: { type: "string", enum: ["alive", "suspect", "dead", "left"] },
    incarnation: { type: "integer" },
    services: { type: "array", items: { type: "string" } },
    last_change: { type: "string", format: "date-time" },
    version: { type: "string" },
    load: { type: "object", additionalProperties: true },
    labels: { type: "object", additionalProperties: { type: "string" } },
    uptime_s: { type: "integer" },
    service_versions: { type: "object", description: "service → version running on the node", additionalProperties: { type: "string" } },
    failed_services: {
      type: "array",
      description: "services that failed to load or initialise on the node",
      items: { type: "object", properties: { name: { type: "string" }, error: { type: "string" } } },
    },
    cert_expires: { type: "string", format: "date-time", description: "with TLS: when the node's certificate expires" },
  },
  required: ["node_id", "role", "address", "state", "incarnation", "services", "last_change"],
} as const;

export const bearer = [{ bearerAuth: [] }];

export const authErrors = { 401: errorSchema, 403: errorSchema };

/** A method as /local/services and /cluster/services describe it (see MethodDescription). */
export const methodDescriptionSchema = {
  type: "object",
  properties: {
    name: { type: "string" },
    description: { type: "string" },
    public: { type: "boolean", description: "whether clients may call it" },
    idempotent: { type: "boolean" },
    cache: { type: ["object", "null"], properties: { ttl_s: { type: "number" } } },
    params: { type: ["object", "null"], additionalProperties: true, description: "JSON schema of the params object, or null" },
    timeout_ms: { type: "integer" },
  },
} as const;
