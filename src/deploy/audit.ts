import type { Logger } from "../log.js";

/** Deployment actions written to the log as audit records: who (token subject), what, when. */
export type AuditAction = "artifact.upload" | "deploy" | "undeploy" | "rollback" | "rollout.failed" | "reload";

export function audit(logger: Logger, who: string, action: AuditAction, details: Record<string, unknown>): void {
  logger.info({ audit: { who, action, at: new Date().toISOString(), ...details } }, `audit: ${who} ${action}${typeof details.service === "string" ? ` ${details.service}` : ""}`);
}
