import type { CallerRole, LinkCall } from "./types.js";

/**
 * Wire messages after the handshake (JSON, short keys because they are per call):
 *   request  {t:"q", id, s: service, m: method, p: params, c: caller, to: timeoutMs, tp?: traceparent}
 *   result   {t:"r", id, r}          error {t:"e", id, e: WireError}
 *   ping     {t:"ping"}              pong  {t:"pong"}
 *   cancel   {t:"c", id}             the caller no longer waits for its request id
 * Unknown `t` values are ignored, so later versions can add kinds.
 */
const ROLES: ReadonlySet<string> = new Set<CallerRole>(["admin", "client", "service"]);

/** Validates a request message; returns a reason string when it is malformed. */
export function parseRequest(m: Record<string, unknown>): { id: number; call: LinkCall } | string {
  const { id, s, m: method, p, c, to, tp } = m;
  if (typeof id !== "number" || !Number.isSafeInteger(id)) return "id must be an integer";
  if (typeof s !== "string" || s.length === 0) return "service must be a string";
  if (typeof method !== "string" || method.length === 0) return "method must be a string";
  if (p === null || typeof p !== "object" || Array.isArray(p)) return "params must be an object";
  if (c === null || typeof c !== "object") return "caller must be an object";
  const caller = c as Record<string, unknown>;
  if (typeof caller.sub !== "string" || typeof caller.role !== "string" || !ROLES.has(caller.role)) {
    return "caller must be {sub, role}";
  }
  if (typeof to !== "number" || !(to > 0)) return "timeout must be a positive number";
  if (tp !== undefined && typeof tp !== "string") return "traceparent must be a string";
  const call: LinkCall = {
    service: s,
    method,
    params: p as Record<string, unknown>,
    caller: { sub: caller.sub, role: caller.role as CallerRole },
    timeoutMs: to,
  };
  if (tp !== undefined) call.traceparent = tp;
  return { id, call };
}
