import type { Logger } from "../log.js";

/**
 * The audit trail: every admin action written to the log as one record — who (the token's
 * subject and the credential that issued the token), what, when, and from where. Records
 * name credentials by their id (`api-key`, `client-key`, `jwt-secret`), never by value, and
 * carry no call params: nothing secret reaches the log through them.
 */
export type AuditAction =
  | "artifact.upload"
  | "deploy"
  | "undeploy"
  | "rollback"
  | "rollout.failed"
  | "reload"
  | "broadcast"
  | "cache.invalidate"
  | "certificates.reload";

export interface Actor {
  /** The token's subject (or a process-level actor such as "signal:SIGHUP"). */
  sub: string;
  /** Id of the credential that issued the token. */
  credential?: string;
  /** Source address of the request. */
  from?: string;
}

export function audit(logger: Logger, actor: Actor, action: AuditAction, details: Record<string, unknown>): void {
  const who = { who: actor.sub, ...(actor.credential ? { credential: actor.credential } : {}), ...(actor.from ? { from: actor.from } : {}) };
  logger.info({ audit: { ...who, action, at: new Date().toISOString(), ...details } }, `audit: ${actor.sub} ${action}${typeof details.service === "string" ? ` ${details.service}` : ""}`);
}
