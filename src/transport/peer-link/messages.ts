import type { CallerRole, LinkCall } from "./types.js";

/**
 * Wire frames after the handshake (link version 2), binary. A record's plaintext is a run of
 * frames, each [u32 n][u8 kind][n − 1 bytes of body], all integers big-endian:
 *   request  id u64 · timeout_ms u32 · role u8 · traceparent length u8 · service, method, caller
 *            sub lengths u16 each · those four strings (UTF-8) · params (JSON text, the rest)
 *   result   id u64 · the result as JSON text (empty: undefined)
 *   error    id u64 · a WireError as JSON text
 *   cancel   id u64            the caller no longer waits for its request id
 *   ping, pong, goaway: no body
 * Ids are below 2^53. Only params, results and errors are JSON (what a method sees); the
 * envelope is read at fixed offsets, so nothing per call is parsed to find where a call goes.
 * Unknown kinds are skipped (their length is known), so later versions can add kinds.
 */
export const FRAME = { request: 1, result: 2, error: 3, cancel: 4, ping: 5, pong: 6, goaway: 7 } as const;

/** u32 length + u8 kind. */
export const FRAME_HEAD = 5;
const ID_BYTES = 8;
const REQUEST_FIXED = ID_BYTES + 4 + 1 + 1 + 2 + 2 + 2;
const U16 = 0xffff;
const U32 = 0xffff_ffff;

const ROLE_CODES: Record<CallerRole, number> = { admin: 1, client: 2, service: 3 };
const ROLES: readonly (CallerRole | undefined)[] = [undefined, "admin", "client", "service"];

/** Upper bound of a string's UTF-8 bytes without measuring it (3 per UTF-16 unit) unless it is long. */
export function utf8Bound(text: string): number {
  return text.length < 4096 ? text.length * 3 : Buffer.byteLength(text);
}

/** Most bytes a request frame can take (what to reserve before writeRequest). */
export function requestBound(call: LinkCall, paramsJson: string): number {
  return FRAME_HEAD + REQUEST_FIXED + 3 * (call.service.length + call.method.length + call.caller.sub.length) + (call.traceparent?.length ?? 0) * 3 + utf8Bound(paramsJson);
}

function writeId(buf: Buffer, at: number, id: number): void {
  buf.writeUInt32BE(Math.floor(id / 0x1_0000_0000), at);
  buf.writeUInt32BE(id >>> 0, at + 4);
}

function readId(buf: Buffer, at: number): number | null {
  const high = buf.readUInt32BE(at);
  if (high > 0x1f_ffff) return null; // beyond 2^53
  return high * 0x1_0000_0000 + buf.readUInt32BE(at + 4);
}

/** Closes a frame that started at `start` and ends at `end`: writes its length. */
function close(buf: Buffer, start: number, end: number): number {
  buf.writeUInt32BE(end - start - 4, start);
  return end;
}

/**
 * Writes a request frame at `at` (room for requestBound reserved); returns its end, or -1 when
 * a name is too long for its u16 length (service, method, caller) — a traceparent over 255
 * bytes is left out (tracing is best effort).
 */
export function writeRequest(buf: Buffer, at: number, id: number, call: LinkCall, timeoutMs: number, paramsJson: string): number {
  buf[at + 4] = FRAME.request;
  let o = at + FRAME_HEAD;
  writeId(buf, o, id);
  buf.writeUInt32BE(Math.min(U32, timeoutMs), o + 8);
  buf[o + 12] = ROLE_CODES[call.caller.role] ?? 0;
  const lengths = o + 13;
  o += REQUEST_FIXED;
  const service = buf.write(call.service, o, "utf8");
  o += service;
  const method = buf.write(call.method, o, "utf8");
  o += method;
  const sub = buf.write(call.caller.sub, o, "utf8");
  o += sub;
  let tp = 0;
  if (call.traceparent !== undefined) {
    tp = buf.write(call.traceparent, o, "utf8");
    if (tp > 0xff) tp = 0;
    o += tp;
  }
  if (service > U16 || method > U16 || sub > U16) return -1;
  buf[lengths] = tp;
  buf.writeUInt16BE(service, lengths + 1);
  buf.writeUInt16BE(method, lengths + 3);
  buf.writeUInt16BE(sub, lengths + 5);
  o += buf.write(paramsJson, o, "utf8");
  return close(buf, at, o);
}

/** Most bytes a result or error frame with this JSON text can take. */
export function answerBound(json: string | undefined): number {
  return FRAME_HEAD + ID_BYTES + (json === undefined ? 0 : utf8Bound(json));
}

/** A result (`json` undefined: the method returned undefined) or error frame; returns its end. */
export function writeAnswer(buf: Buffer, at: number, kind: typeof FRAME.result | typeof FRAME.error, id: number, json: string | undefined): number {
  buf[at + 4] = kind;
  writeId(buf, at + FRAME_HEAD, id);
  let o = at + FRAME_HEAD + ID_BYTES;
  if (json !== undefined) o += buf.write(json, o, "utf8");
  return close(buf, at, o);
}

export const CANCEL_BYTES = FRAME_HEAD + ID_BYTES;

export function writeCancel(buf: Buffer, at: number, id: number): number {
  buf[at + 4] = FRAME.cancel;
  writeId(buf, at + FRAME_HEAD, id);
  return close(buf, at, at + CANCEL_BYTES);
}

/** ping, pong, goaway. */
export function writeControl(buf: Buffer, at: number, kind: typeof FRAME.ping | typeof FRAME.pong | typeof FRAME.goaway): number {
  buf[at + 4] = kind;
  return close(buf, at, at + FRAME_HEAD);
}

/** The id of a frame body (result, error, cancel, request) starting at `start`; null if malformed. */
export function frameId(buf: Buffer, start: number, end: number): number | null {
  return end - start >= ID_BYTES ? readId(buf, start) : null;
}

/** The JSON text after a result/error frame's id (undefined when empty). */
export function answerText(buf: Buffer, start: number, end: number): string | undefined {
  return end - start > ID_BYTES ? buf.toString("utf8", start + ID_BYTES, end) : undefined;
}

export type ParsedRequest = { id: number; call: LinkCall } | { id: number | null; reason: string };

/** Validates a request frame body in [start, end); a reason when it is malformed (id null: no usable id). */
export function parseRequest(buf: Buffer, start: number, end: number): ParsedRequest {
  if (end - start < REQUEST_FIXED) return { id: frameId(buf, start, end), reason: "request too short" };
  const id = readId(buf, start);
  if (id === null) return { id, reason: "id must be below 2^53" };
  const timeoutMs = buf.readUInt32BE(start + 8);
  const role = ROLES[buf[start + 12]!];
  const tpLength = buf[start + 13]!;
  const serviceLength = buf.readUInt16BE(start + 14);
  const methodLength = buf.readUInt16BE(start + 16);
  const subLength = buf.readUInt16BE(start + 18);
  let o = start + REQUEST_FIXED;
  const paramsAt = o + serviceLength + methodLength + subLength + tpLength;
  if (paramsAt > end) return { id, reason: "request shorter than its fields" };
  if (role === undefined) return { id, reason: "caller must be {sub, role}" };
  if (serviceLength === 0) return { id, reason: "service must be a string" };
  if (methodLength === 0) return { id, reason: "method must be a string" };
  if (!(timeoutMs > 0)) return { id, reason: "timeout must be a positive number" };
  const service = buf.toString("utf8", o, (o += serviceLength));
  const method = buf.toString("utf8", o, (o += methodLength));
  const sub = buf.toString("utf8", o, (o += subLength));
  const traceparent = tpLength > 0 ? buf.toString("utf8", o, (o += tpLength)) : undefined;
  let params: unknown;
  try {
    params = JSON.parse(buf.toString("utf8", paramsAt, end));
  } catch {
    return { id, reason: "params must be an object" };
  }
  if (params === null || typeof params !== "object" || Array.isArray(params)) return { id, reason: "params must be an object" };
  const call: LinkCall = { service, method, params: params as Record<string, unknown>, caller: { sub, role }, timeoutMs };
  if (traceparent !== undefined) call.traceparent = traceparent;
  return { id, call };
}
