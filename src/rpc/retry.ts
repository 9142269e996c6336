/**
 * When a failed attempt may be tried again on another node.
 *
 * - Always, when the call provably did not run: `data.reason` is `not_sent`, `node_left`,
 *   `draining`, `bulkhead_full` or `circuit_open`. Running it elsewhere cannot run it twice.
 * - Only for idempotent methods, when it may have run: a TIMEOUT of one attempt (not the
 *   caller's whole deadline, reason `deadline_exceeded`) or a `connection_lost`.
 * - Never otherwise: INVALID_PARAMS, FORBIDDEN, INTERNAL (the method threw), NOT_FOUND...
 *   are answers, and another node would give the same one.
 * The pipeline also stops when the deadline has passed or `maxAttempts` is reached.
 *
 * Caveat: reasons must describe this hop. A peer link that relays a nested call's error
 * (a method whose own proxy call failed) must not forward `not_sent` & co. verbatim, or
 * a method that did run could be retried.
 */
import type { P2PError } from "../errors.js";
import { reasonOf } from "./failure.js";

/** Attempts per call, the first one included: enough to step over one or two bad nodes. */
export const DEFAULT_MAX_ATTEMPTS = 3;

const NOT_RUN = new Set(["not_sent", "node_left", "draining", "bulkhead_full", "circuit_open"]);

/** True when `err` proves the call never ran on its target. */
export function provablyNotRun(err: P2PError): boolean {
  const reason = reasonOf(err);
  return reason !== undefined && NOT_RUN.has(reason);
}

export function shouldRetry(err: P2PError, idempotent: boolean): boolean {
  const reason = reasonOf(err);
  if (reason !== undefined && NOT_RUN.has(reason)) return true;
  if (!idempotent) return false;
  if (err.code === "TIMEOUT") return reason !== "deadline_exceeded";
  return err.code === "UNAVAILABLE" && reason === "connection_lost";
}
