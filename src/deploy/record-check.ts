/** Validation of deployment records and placements arriving from peers or admins. */
import type { DeploymentRecord, Placement } from "./types.js";
import { isSha256 } from "./artifact-store.js";

export const SERVICE_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;
const NODE_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
const MAX_HISTORY = 10;

function isStringMap(value: unknown): value is Record<string, string> {
  return typeof value === "object" && value !== null && !Array.isArray(value) && Object.values(value).every((v) => typeof v === "string");
}

/** A placement, or a message saying what is wrong with it. */
export function checkPlacement(value: unknown): Placement | string {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return "placement must be an object";
  const p = value as Record<string, unknown>;
  const known = ["nodes", "role", "labels", "count"];
  const extra = Object.keys(p).find((k) => !known.includes(k));
  if (extra) return `placement: unknown field "${extra}"`;
  if (p.nodes !== undefined) {
    if (Object.keys(p).length > 1) return "placement: nodes cannot be combined with role, labels or count";
    if (!Array.isArray(p.nodes) || p.nodes.length === 0 || p.nodes.length > 1000 || !p.nodes.every((n) => typeof n === "string" && NODE_ID.test(n))) return "placement.nodes must be a non-empty list of node ids";
    return { nodes: [...new Set(p.nodes as string[])].sort() };
  }
  const out: Placement = {};
  if (p.role !== undefined) {
    if (p.role !== "coordinator" && p.role !== "worker") return 'placement.role must be "coordinator" or "worker"';
    out.role = p.role;
  }
  if (p.labels !== undefined) {
    if (!isStringMap(p.labels) || Object.keys(p.labels).length > 32) return "placement.labels must be an object of strings";
    out.labels = { ...p.labels };
  }
  if (p.count !== undefined) {
    if (typeof p.count !== "number" || !Number.isInteger(p.count) || p.count < 1 || p.count > 10_000) return "placement.count must be a positive integer";
    out.count = p.count;
  }
  return out;
}

/** A record from a peer, checked field by field; null when anything is off. */
export function checkRecord(value: unknown): DeploymentRecord | null {
  if (typeof value !== "object" || value === null) return null;
  const r = value as Record<string, unknown>;
  const placement = checkPlacement(r.placement);
  if (typeof placement === "string") return null;
  const ok =
    typeof r.service === "string" && SERVICE_NAME.test(r.service) &&
    typeof r.artifact === "string" && isSha256(r.artifact) &&
    typeof r.generation === "number" && Number.isSafeInteger(r.generation) && r.generation > 0 &&
    typeof r.write_id === "string" && r.write_id.length <= 64 &&
    Array.isArray(r.history) && r.history.length <= MAX_HISTORY && r.history.every((h) => typeof h === "string" && isSha256(h)) &&
    typeof r.deleted === "boolean" && typeof r.rolled_back === "boolean" &&
    typeof r.by === "string" && r.by.length <= 128 && typeof r.at === "string" && r.at.length <= 40 &&
    typeof r.origin === "string" && NODE_ID.test(r.origin);
  if (!ok) return null;
  return {
    service: r.service as string, artifact: r.artifact as string, placement, generation: r.generation as number, write_id: r.write_id as string,
    history: [...(r.history as string[])], deleted: r.deleted as boolean, rolled_back: r.rolled_back as boolean, by: r.by as string, at: r.at as string, origin: r.origin as string,
  };
}

/** History after replacing `previous` with a new artifact (bounded). */
export function nextHistory(previous: DeploymentRecord | undefined, artifact: string): string[] {
  if (!previous || previous.deleted) return [];
  const history = previous.artifact === artifact ? [...previous.history] : [...previous.history, previous.artifact];
  return history.slice(-MAX_HISTORY);
}
