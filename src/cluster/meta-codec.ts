import { deflateRawSync, inflateRawSync } from "node:zlib";
import type { NodeMeta } from "./types.js";

/** Node metadata on the wire: JSON, deflated (service lists compress well below a packet). */
export function encodeMeta(meta: NodeMeta): Uint8Array {
  return deflateRawSync(Buffer.from(JSON.stringify(meta)));
}

/** Labels (string → string) as gossiped; anything else is dropped. */
function optionalMeta(value: Partial<NodeMeta>): Pick<NodeMeta, "labels" | "failed_services"> {
  const out: Pick<NodeMeta, "labels" | "failed_services"> = {};
  const labels = value.labels;
  if (labels && typeof labels === "object" && !Array.isArray(labels)) {
    out.labels = Object.fromEntries(Object.entries(labels).filter(([, v]) => typeof v === "string"));
  }
  if (Array.isArray(value.failed_services)) {
    const failed = value.failed_services.filter((f) => f && typeof f.name === "string" && typeof f.error === "string").slice(0, 100);
    if (failed.length > 0) out.failed_services = failed.map((f) => ({ name: f.name, error: f.error }));
  }
  return out;
}

const MAX_META_BYTES = 256 * 1024;

/** Decodes gossiped metadata; anything malformed becomes null (the member shows without services). */
export function decodeMeta(bytes: Uint8Array): NodeMeta | null {
  if (bytes.length === 0) return null;
  try {
    const value = JSON.parse(inflateRawSync(bytes, { maxOutputLength: MAX_META_BYTES }).toString("utf8")) as Partial<NodeMeta>;
    if ((value.role !== "coordinator" && value.role !== "worker") || !Array.isArray(value.services) || typeof value.started_at !== "number") return null;
    const services = value.services.filter((s) => s && typeof s.name === "string" && Array.isArray(s.methods));
    return { role: value.role, version: String(value.version ?? "unknown"), started_at: value.started_at, services, ...(value.load ? { load: value.load } : {}), ...optionalMeta(value) };
  } catch {
    return null;
  }
}
