/**
 * Public shapes of the peer link: one persistent, multiplexed, authenticated and encrypted
 * connection per pair of nodes, carrying routed calls (never the public HTTP API).
 */
import type { Cancellation } from "../../rpc/cancellation.js";
import type { InflightTracker } from "../../util/inflight.js";

export const LINK_PROTOCOL = "p2p-link";

export type CallerRole = "admin" | "client" | "service";

export interface LinkCall {
  service: string;
  method: string;
  params: Record<string, unknown>;
  caller: { sub: string; role: CallerRole };
  /** Remaining budget in milliseconds; the server sees what was left when the call was sent. */
  timeoutMs: number;
  traceparent?: string;
  /**
   * Caller side: when it fires, the call is abandoned and the peer told to cancel it.
   * Target side: fires when the caller cancels.
   */
  cancel?: Cancellation;
}

/** Serves one call; throws P2PError (anything else becomes INTERNAL). */
export type LinkHandler = (call: LinkCall, fromNodeId: string, served: ServedCall) => Promise<unknown>;

/** The responder's handle on a call it serves, given to the handler with the call. */
export interface ServedCall {
  /**
   * Counts the call among the node's calls in flight until it is answered; the node's shutdown
   * may cut it there (answer it with an error at once; the handler's later answer is dropped).
   */
  trackIn(inflight: InflightTracker): void;
}

export interface LinkTarget {
  nodeId: string;
  host: string;
  port: number;
}

/** The subset of a pino logger the link uses. */
export interface LinkLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export const silentLogger: LinkLogger = {
  debug() {},
  info() {},
  warn() {},
};
