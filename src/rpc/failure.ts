/**
 * How the call pipeline reads a failed attempt: which `data.reason` it carries, whether it
 * says something about the target node's health, and how raw socket errors map to the
 * contract's codes. Breaker, retry and stats all decide here, on code + reason, never on
 * message text (DESIGN §5).
 */
import { P2PError, toP2PError } from "../errors.js";

/**
 * Reasons the pipeline and the peer link put in `P2PError.data.reason`.
 * - `not_sent`: the request never left this node (no connection, write refused).
 * - `node_left`: the target left or died before the request was sent.
 * - `draining`: the target refused the call because it is shutting down.
 * - `bulkhead_full` / `circuit_open`: this node refused to send (local protection).
 * - `connection_lost`: the connection broke after sending; the call may have run.
 * - `deadline_exceeded`: the caller's whole deadline passed.
 * - `attempt_timeout`: one attempt hit its own cap; the deadline still has time.
 * - `no_healthy_node`: the pipeline ran out of nodes or attempts.
 */
export type FailureReason =
  | "not_sent"
  | "node_left"
  | "draining"
  | "bulkhead_full"
  | "circuit_open"
  | "connection_lost"
  | "deadline_exceeded"
  | "attempt_timeout"
  | "no_healthy_node";

export function reasonOf(err: P2PError): string | undefined {
  const data = err.data;
  if (data !== null && typeof data === "object") {
    const reason = (data as { reason?: unknown }).reason;
    if (typeof reason === "string") return reason;
  }
  return undefined;
}

/**
 * This node never sent the call: refused it (bulkhead full, breaker open) or let it
 * time out while still in the bulkhead's queue (`data.queued`). Says nothing about the
 * target's health, for better or worse.
 */
export function isLocalRejection(err: P2PError): boolean {
  const reason = reasonOf(err);
  if (reason === "bulkhead_full" || reason === "circuit_open") return true;
  const data = err.data;
  return data !== null && typeof data === "object" && (data as { queued?: unknown }).queued === true;
}

/**
 * The target failed to answer: unreachable, gone, overloaded or too slow. These count
 * against its breaker and its latency score. An answer from the method itself (INTERNAL,
 * INVALID_PARAMS, FORBIDDEN, NOT_FOUND...) proves the node is up and does not count.
 */
export function isNodeFault(err: P2PError): boolean {
  if (err.code === "TIMEOUT") return !isLocalRejection(err);
  if (err.code !== "UNAVAILABLE") return false;
  const reason = reasonOf(err);
  return reason !== "bulkhead_full" && reason !== "circuit_open" && reason !== "no_healthy_node";
}

/** Socket errors whose request provably never reached the peer. */
const NOT_SENT_ERRNO = new Set(["ECONNREFUSED", "EHOSTUNREACH", "ENETUNREACH", "ENOTFOUND", "EAI_AGAIN"]);
/** Socket errors after which the request may or may not have run. */
const LOST_ERRNO = new Set(["ECONNRESET", "EPIPE", "ECONNABORTED", "ETIMEDOUT", "ERR_STREAM_DESTROYED"]);

/**
 * Anything an attempt throws becomes a P2PError; raw Node socket errors become
 * UNAVAILABLE with `not_sent` or `connection_lost` instead of an anonymous INTERNAL.
 */
export function normalizeAttemptError(err: unknown, nodeId: string): P2PError {
  if (err instanceof P2PError) return err;
  if (err instanceof Error && "code" in err && typeof err.code === "string") {
    if (NOT_SENT_ERRNO.has(err.code)) {
      return new P2PError("UNAVAILABLE", `cannot reach node ${nodeId}`, { reason: "not_sent", node: nodeId });
    }
    if (LOST_ERRNO.has(err.code)) {
      return new P2PError("UNAVAILABLE", `connection to node ${nodeId} lost`, {
        reason: "connection_lost",
        node: nodeId,
      });
    }
  }
  return toP2PError(err);
}
