import { AsyncLocalStorage } from "node:async_hooks";
import { randomBytes } from "node:crypto";
import type { Caller } from "../auth/tokens.js";
import type { BalancerName } from "./balancers/types.js";
import type { CallScope } from "./call-scope.js";
import type { Cancellation } from "./cancellation.js";

/** What travels with a call and every nested call it makes. */
export interface CallContext {
  caller: Caller;
  /** Absolute deadline on the router's clock (ms). */
  deadline: number;
  /** W3C trace id (32 hex chars) shared by every hop. */
  traceId: string;
  /** Incoming traceparent of this hop, if any. */
  traceparent?: string;
  /** Balancing strategy asked for by this call (x-p2p-balancer / proxy option). */
  balancer?: BalancerName;
  /** Fires when the caller no longer waits (HTTP client gone, peer link cancel, parent call over). */
  cancel?: Cancellation;
  /** The method execution this context belongs to (set by the router for the method it runs). */
  scope?: CallScope;
}

/** The context of the method running now, so `this.proxy` calls inherit deadline, trace and caller. */
export const currentCall = new AsyncLocalStorage<CallContext>();

/** Trace ids drawn at once: one call into the random source per 128 ids instead of one per call. */
const IDS_PER_DRAW = 128;
const ZERO_ID = "0".repeat(32);
let pool = Buffer.alloc(0);
let taken = 0;

/** A random W3C trace id: 32 hex digits, never all zeros. */
export function newTraceId(): string {
  if (taken >= pool.length) {
    pool = randomBytes(16 * IDS_PER_DRAW);
    taken = 0;
  }
  const id = pool.toString("hex", taken, taken + 16);
  taken += 16;
  return id === ZERO_ID ? newTraceId() : id;
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** Trace id of a valid W3C traceparent header, else undefined. */
export function traceIdOf(traceparent: string | undefined): string | undefined {
  if (!traceparent) return undefined;
  const m = TRACEPARENT.exec(traceparent.trim().toLowerCase());
  if (!m || m[1] === "ff" || /^0+$/.test(m[2]!) || /^0+$/.test(m[3]!)) return undefined;
  return m[2];
}
