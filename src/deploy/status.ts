/** A deployment's status as any node sees it: the record, its placement and what targets report. */
import type { MemberView } from "../cluster/types.js";
import { place } from "./placement.js";
import type { DeploymentRecord, DeploymentReport, DeploymentView, DeploymentStatus } from "./types.js";

export function reportOf(member: MemberView | undefined, service: string): DeploymentReport | undefined {
  return member?.meta?.deployments?.[service];
}

export function deploymentView(record: DeploymentRecord, members: MemberView[]): DeploymentView {
  const byId = new Map(members.map((m) => [m.nodeId, m]));
  const { targets, wanted } = place(record.service, record.placement, members);
  const nodes: DeploymentView["nodes"] = {};
  let version: string | null = null;
  let running = 0;
  let failed = false;
  for (const id of targets) {
    const report = reportOf(byId.get(id), record.service);
    if (!report || report.generation !== record.generation) {
      nodes[id] = { state: "pending", artifact: report?.running ?? null };
      continue;
    }
    nodes[id] = { state: report.state, artifact: report.running ?? null, ...(report.error ? { error: report.error } : {}) };
    if (report.state === "running" && report.running === record.artifact) {
      running += 1;
      version ??= report.version ?? null;
    }
    if (report.state === "failed") failed = true;
  }
  let status: DeploymentStatus = "rolling";
  if (failed) status = "failed";
  else if (running === targets.length && targets.length >= wanted && targets.length > 0) status = record.rolled_back ? "rolled_back" : "ready";
  const view: DeploymentView = {
    service: record.service,
    artifact: record.artifact,
    version,
    generation: record.generation,
    placement: record.placement,
    status,
    nodes,
    updated_by: record.by,
    updated_at: record.at,
  };
  if (targets.length < wanted || targets.length === 0) {
    view.message = `only ${targets.length} of ${Math.max(wanted, 1)} requested nodes match the placement`;
  }
  return view;
}
