import { deflateRawSync, inflateRawSync } from "node:zlib";
import { Ajv, type ValidateFunction } from "ajv";
import type { NodeMeta } from "./types.js";

/**
 * Node metadata on the wire: JSON, deflated (service lists compress well below a packet).
 * Metadata comes from other nodes, so it is untrusted: decodeMeta() checks it against
 * META_SCHEMA, the one place that says what a member may announce. Anything that does not
 * match is refused whole (the member shows without metadata) — never half-used, so no
 * reader of the registry ever sees a `null` method or a string where a number belongs.
 * Fields the schema does not name pass through untouched: a module that reads a new field
 * adds it here first.
 */
export function encodeMeta(meta: NodeMeta): Uint8Array {
  return deflateRawSync(Buffer.from(JSON.stringify(meta)));
}

const MAX_META_BYTES = 256 * 1024;
const NAME = { type: "string", minLength: 1, maxLength: 200 } as const;
const TEXT = { type: "string", maxLength: 4096 } as const;
const COUNT = { type: "number", minimum: 0, maximum: Number.MAX_SAFE_INTEGER } as const;

const METHOD_SCHEMA = {
  type: "object",
  required: ["name", "public", "idempotent"],
  properties: {
    name: NAME,
    description: TEXT,
    public: { type: "boolean" },
    idempotent: { type: "boolean" },
    cache: {
      type: "object",
      required: ["ttl_s"],
      properties: { ttl_s: COUNT, tags: { type: "array", maxItems: 100, items: { type: "string", maxLength: 200 } } },
    },
    timeout_ms: COUNT,
  },
} as const;

const SERVICE_SCHEMA = {
  type: "object",
  required: ["name", "version", "methods"],
  properties: {
    name: NAME,
    version: { type: "string", maxLength: 200 },
    description: TEXT,
    balancer: { enum: ["round-robin", "random", "least-latency"] },
    methods: { type: "array", maxItems: 1000, items: METHOD_SCHEMA },
    artifact: { type: "string", pattern: "^[0-9a-f]{64}$" },
  },
} as const;

/** What a node did with a deployed service's latest generation. */
const DEPLOYMENT_REPORT_SCHEMA = {
  type: "object",
  required: ["generation", "state"],
  properties: {
    generation: COUNT,
    state: { enum: ["pending", "starting", "running", "failed", "stopped"] },
    running: { type: "string", pattern: "^[0-9a-f]{64}$" },
    version: { type: "string", maxLength: 200 },
    error: TEXT,
  },
} as const;

export const META_SCHEMA = {
  type: "object",
  required: ["role", "version", "started_at", "services"],
  properties: {
    role: { enum: ["coordinator", "worker"] },
    version: { type: "string", maxLength: 200 },
    started_at: COUNT,
    services: { type: "array", maxItems: 1000, items: SERVICE_SCHEMA },
    load: { type: "object", required: ["inflight", "lag_ms"], properties: { inflight: COUNT, lag_ms: COUNT } },
    uptime_s: COUNT,
    labels: { type: "object", maxProperties: 100, additionalProperties: { type: "string", maxLength: 200 } },
    service_versions: { type: "object", maxProperties: 1000, additionalProperties: { type: "string", maxLength: 200 } },
    deployments: { type: "object", maxProperties: 1000, additionalProperties: DEPLOYMENT_REPORT_SCHEMA },
    cert_expires: COUNT,
    failed_services: {
      type: "array",
      maxItems: 1000,
      items: { type: "object", required: ["name", "error"], properties: { name: NAME, error: TEXT } },
    },
  },
} as const;

const validateMeta: ValidateFunction = new Ajv({ strict: false, allErrors: false }).compile(META_SCHEMA);

/** Decodes gossiped metadata; anything malformed or off-schema becomes null (the member shows without services). */
export function decodeMeta(bytes: Uint8Array): NodeMeta | null {
  if (bytes.length === 0) return null;
  let value: unknown;
  try {
    value = JSON.parse(inflateRawSync(bytes, { maxOutputLength: MAX_META_BYTES }).toString("utf8"));
  } catch {
    return null;
  }
  return validateMeta(value) ? (value as NodeMeta) : null;
}

/** True when `bytes` is empty (no metadata yet) or decodes to schema-valid metadata. */
export function isValidMeta(bytes: Uint8Array): boolean {
  return bytes.length === 0 || decodeMeta(bytes) !== null;
}
