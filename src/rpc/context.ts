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

/** Trace id of a valid W3C traceparent header, else undefined. */
export function traceIdOf(traceparent: string | undefined): string | undefined {
  if (!traceparent) return undefined;
  // Read in place (every link call carries one): no match array, no lower-cased copy unless needed.
  if (isTraceparent(traceparent)) return traceparent.slice(3, 35);
  const normal = traceparent.trim().toLowerCase();
  return normal !== traceparent && isTraceparent(normal) ? normal.slice(3, 35) : undefined;
}

/**
 * `vv-<32 hex trace id>-<16 hex parent id>-<2 hex flags>` in lower case, version not ff, neither
 * id all zeros (the W3C rules).
 */
function isTraceparent(tp: string): boolean {
  if (tp.length !== 55 || tp.charCodeAt(2) !== DASH || tp.charCodeAt(35) !== DASH || tp.charCodeAt(52) !== DASH) return false;
  if (!isHex(tp, 0, 2) || !isHex(tp, 53, 55) || !isHex(tp, 3, 35) || !isHex(tp, 36, 52)) return false;
  return !tp.startsWith("ff") && !isZeros(tp, 3, 35) && !isZeros(tp, 36, 52);
}

const DASH = 0x2d;

function isHex(text: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (!((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66))) return false;
  }
  return true;
}

function isZeros(text: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (text.charCodeAt(i) !== 0x30) return false;
  return true;
}
