/**
 * How the call pipeline reads a failed attempt, in one place: breaker, node health, balancer
 * stats, retry and metrics all decide from `classify(err)`, on code + `data.reason`, never on
 * message text.
 *
 * | class               | example                                   | node fault | endpoint fault | retry            | latency sample |
 * |---------------------|-------------------------------------------|------------|----------------|------------------|----------------|
 * | `deadline_exceeded` | any TIMEOUT but an attempt cap            | no         | no             | never            | no             |
 * | `local_rejection`   | bulkhead_full, circuit_open, queued       | no         | no             | always (not run) | no             |
 * | `unreachable`       | not_sent, node_left, connection_lost      | yes        | no             | not_sent, node_left: always; lost: idempotent | penalty |
 * | `refused`           | draining; shutdown (cut while running)    | no         | no             | always; cut: idempotent | no      |
 * | `slow`              | attempt_timeout (the pipeline's own cap)  | no         | yes            | idempotent       | elapsed        |
 * | `unavailable`       | the method itself answered UNAVAILABLE    | no         | yes            | never            | elapsed        |
 * | `answered`          | INTERNAL, INVALID_PARAMS, FORBIDDEN, 404… | no         | no             | never            | elapsed        |
 *
 * A TIMEOUT from the caller's own budget says nothing about the node: a client that sends
 * 30 ms deadlines to a slow method must not open breakers for everyone. Only failures that
 * prove the node unreachable feed the node-level signal.
 */
import { P2PError, toP2PError } from "../errors.js";

/**
 * Reasons the pipeline and the peer link put in `P2PError.data.reason`.
 * - `not_sent`: the request never left this node (no connection, write refused).
 * - `node_left`: the target left or died before the request was sent.
 * - `draining`: the target refused the call because it is shutting down.
 * - `shutdown`: the target shut down while the call ran (cut after its grace period).
 * - `bulkhead_full` / `circuit_open`: this node refused to send (local protection).
 * - `connection_lost`: the connection broke after sending; the call may have run.
 * - `deadline_exceeded`: the caller's whole deadline passed.
 * - `attempt_timeout`: one attempt hit the pipeline's cap; the deadline still has time.
 * - `no_healthy_node`: the pipeline ran out of nodes or attempts.
 */
export type FailureReason =
  | "not_sent"
  | "node_left"
  | "draining"
  | "shutdown"
  | "bulkhead_full"
  | "circuit_open"
  | "connection_lost"
  | "deadline_exceeded"
  | "attempt_timeout"
  | "no_healthy_node";

export type FailureClass = "deadline_exceeded" | "local_rejection" | "unreachable" | "refused" | "slow" | "unavailable" | "answered";

export interface Classification {
  kind: FailureClass;
  /** Proves the node unreachable: feeds the node-level health signal. */
  nodeFault: boolean;
  /** Counts against the (node, service, method) breaker's failure rate. */
  endpointFault: boolean;
  /** The call provably did not run on its target. */
  notRun: boolean;
  /** May run again on another node: "always" (not run), "idempotent" (may have run) or "never". */
  retry: "always" | "idempotent" | "never";
  /** Feeds the balancer's latency estimate: "elapsed" time, a "penalty", or "none". */
  sample: "elapsed" | "penalty" | "none";
}

const C = (kind: FailureClass, nodeFault: boolean, endpointFault: boolean, notRun: boolean, retry: Classification["retry"], sample: Classification["sample"]): Classification =>
  Object.freeze({ kind, nodeFault, endpointFault, notRun, retry, sample });

const DEADLINE = C("deadline_exceeded", false, false, false, "never", "none");
const LOCAL = C("local_rejection", false, false, true, "always", "none");
const NOT_SENT = C("unreachable", true, false, true, "always", "penalty");
const LOST = C("unreachable", true, false, false, "idempotent", "penalty");
const REFUSED = C("refused", false, false, true, "always", "none");
const CUT = C("refused", false, false, false, "idempotent", "none");
const SLOW = C("slow", false, true, false, "idempotent", "elapsed");
const UNAVAILABLE = C("unavailable", false, true, false, "never", "elapsed");
const ANSWERED = C("answered", false, false, false, "never", "elapsed");

export function classify(err: P2PError): Classification {
  const reason = reasonOf(err);
  if (err.code === "TIMEOUT") {
    if (queued(err)) return LOCAL;
    return reason === "attempt_timeout" ? SLOW : DEADLINE;
  }
  switch (reason) {
    case "bulkhead_full":
    case "circuit_open":
      return LOCAL;
    case "not_sent":
    case "node_left":
      return NOT_SENT;
    case "connection_lost":
      return LOST;
    case "draining":
      return REFUSED;
    case "shutdown":
      return CUT;
  }
  return err.code === "UNAVAILABLE" ? UNAVAILABLE : ANSWERED;
}

export function reasonOf(err: P2PError): string | undefined {
  const data = err.data;
  if (data !== null && typeof data === "object") {
    const reason = (data as { reason?: unknown }).reason;
    if (typeof reason === "string") return reason;
  }
  return undefined;
}

/** Timed out while still in this node's bulkhead queue: never sent. */
function queued(err: P2PError): boolean {
  const data = err.data;
  return data !== null && typeof data === "object" && (data as { queued?: unknown }).queued === true;
}

/** May a failed attempt run again on another node? */
export function shouldRetry(err: P2PError, idempotent: boolean): boolean {
  const retry = classify(err).retry;
  return retry === "always" || (retry === "idempotent" && idempotent);
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
      return new P2PError("UNAVAILABLE", `connection to node ${nodeId} lost`, { reason: "connection_lost", node: nodeId });
    }
  }
  return toP2PError(err);
}
