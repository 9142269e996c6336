/**
 * Placement: a pure function of a deployment's placement and the membership. Every node
 * computes the same targets from the same record and member list. With `count`, rendezvous
 * hashing picks the nodes, so a departure moves only the departed node's share.
 */
import { createHash } from "node:crypto";
import type { MemberView } from "../cluster/types.js";
import type { Placement } from "./types.js";

export interface PlacementResult {
  /** Node ids that should run the service, in rollout order. */
  targets: string[];
  /** How many instances the placement asks for. */
  wanted: number;
}

/** Members that may take new work: alive ones, and suspect ones until declared dead (no churn on a blip). */
function eligible(m: MemberView): boolean {
  return (m.state === "alive" || m.state === "suspect") && m.meta !== null;
}

function matches(m: MemberView, p: Placement): boolean {
  if (p.role && m.meta?.role !== p.role) return false;
  const labels = m.meta?.labels ?? {};
  return Object.entries(p.labels ?? {}).every(([k, v]) => labels[k] === v);
}

export function rendezvousScore(service: string, nodeId: string): string {
  return createHash("sha256").update(`${service}\0${nodeId}`).digest("hex");
}

export function place(service: string, placement: Placement, members: MemberView[]): PlacementResult {
  if (placement.nodes) return { targets: [...placement.nodes].sort(), wanted: placement.nodes.length };
  const candidates = members.filter((m) => eligible(m) && matches(m, placement)).map((m) => m.nodeId);
  if (placement.count === undefined) return { targets: candidates.sort(), wanted: candidates.length };
  const chosen = candidates
    .map((id) => ({ id, score: rendezvousScore(service, id) }))
    .sort((a, b) => (a.score < b.score ? 1 : a.score > b.score ? -1 : 0))
    .slice(0, placement.count)
    .map((c) => c.id);
  return { targets: chosen.sort(), wanted: placement.count };
}
