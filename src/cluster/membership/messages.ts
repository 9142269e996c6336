/**
 * Wire codec of the membership protocol (inside the keyring seal).
 * Packet:  [protocol version u8][sent at f64][sender name] then messages, each
 *          [type u8][body length u16][body]; unknown types are skipped by length, so the
 *          type enum is append-only and older members ignore newer messages.
 * Sync (push-pull over exchange): [version u8][sent at f64][sender name][flags u8][count u32][entries];
 *          with flag SYNC_PROOFS each entry ends with its liveness proof and certificate (bytes).
 * Strings are u16-length-prefixed UTF-8; incarnations are u64 (version 2: they never wrap).
 * Every field is checked here, at decode, before anything else sees it: a malformed frame
 * throws CodecError (the packet is dropped and counted), a well-framed message or entry
 * with a bad field (a name with control characters, an unparsable address, an incarnation
 * beyond MAX_INCARNATION) is dropped alone and counted as `invalid`.
 */
import { asciiHash, heldAlive, type HeldMember, type NameIndex } from "./known-news.js";

export const PROTOCOL_VERSION = 2;
// Version 1 (32-bit incarnations) and 2 cannot share a cluster: a packet of another version
// is dropped whole (VersionError), with a rate-limited warning naming it.
/** Largest incarnation accepted: refuting it (+1) still fits a double exactly. */
export const MAX_INCARNATION = Number.MAX_SAFE_INTEGER - 1;
const MAX_NAME_BYTES = 255;
const MAX_ADDRESS_BYTES = 300;
const SYNC_JOIN = 1;
const SYNC_CONFLICT = 2;
/** Each entry is followed by its liveness proof and its certificate (both possibly empty). */
const SYNC_PROOFS = 4;

/** Append-only: never renumber, never reuse. */
export enum MessageType {
  Ping = 1,
  PingReq = 2,
  Ack = 3,
  Nack = 4,
  Alive = 5,
  Suspect = 6,
  Dead = 7,
}

export type WireState = "alive" | "suspect" | "dead" | "left";
const STATE_CODES: readonly WireState[] = ["alive", "suspect", "dead", "left"];

export interface PingMsg { type: MessageType.Ping; seq: number; target: string }
export interface PingReqMsg { type: MessageType.PingReq; seq: number; target: string; targetAddress: string }
export interface AckMsg { type: MessageType.Ack; seq: number }
export interface NackMsg { type: MessageType.Nack; seq: number }
/** `proof`: the member's own signature of this news (clusters with node certificates); appended, so older members skip it. */
export interface AliveMsg { type: MessageType.Alive; name: string; address: string; incarnation: number; meta: Uint8Array; proof?: Uint8Array }
export interface SuspectMsg { type: MessageType.Suspect; name: string; incarnation: number; from: string }
/** A leave (`from` = `name`) may carry the member's `proof`, like an alive. */
export interface DeadMsg { type: MessageType.Dead; name: string; incarnation: number; from: string; proof?: Uint8Array }
export type Message = PingMsg | PingReqMsg | AckMsg | NackMsg | AliveMsg | SuspectMsg | DeadMsg;

export interface PacketHeader { sentAt: number; sender: string }
/** `held`: alives the receiver already holds, counted but not decoded (decodePacket's `held`). */
export interface Packet extends PacketHeader { messages: Message[]; unknown: number; invalid: number; held: number }

export interface StateEntry { name: string; address: string; incarnation: number; state: WireState; meta: Uint8Array; proof?: Uint8Array; cert?: Uint8Array }
export interface SyncPayload extends PacketHeader {
  join: boolean;
  /** A refused join: the sender's name belongs to a live member elsewhere (entries: that member). */
  conflict?: boolean;
  entries: StateEntry[];
  /** Decoded entries dropped for a bad field. */
  invalid?: number;
}

export class CodecError extends Error {}

/** One empty byte string for every empty field decoded or copied (nothing can be written into it). */
const EMPTY_BYTES: Buffer = Buffer.alloc(0);

/**
 * A copy of decoded bytes to keep. (A decoded field is a Buffer view into its packet, and
 * Buffer#slice is a view too: keeping one kept the whole packet in memory.)
 */
export function copyBytes(v: Uint8Array): Uint8Array {
  return v.length === 0 ? EMPTY_BYTES : Buffer.from(v);
}

/** A packet of another protocol version: mixed versions do not talk (see PROTOCOL_VERSION). */
export class VersionError extends CodecError {
  constructor(readonly version: number) {
    super(`protocol version ${version}`);
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

export class Writer {
  private buf: Buffer;
  length = 0;
  constructor(initial = 256) {
    this.buf = Buffer.allocUnsafe(initial);
  }
  private ensure(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.length + n));
    this.buf.copy(next, 0, 0, this.length);
    this.buf = next;
  }
  u8(v: number): void {
    this.ensure(1);
    this.buf[this.length++] = v;
  }
  u16(v: number): void {
    this.ensure(2);
    this.buf.writeUInt16BE(v, this.length);
    this.length += 2;
  }
  u32(v: number): void {
    this.ensure(4);
    this.buf.writeUInt32BE(v >>> 0, this.length);
    this.length += 4;
  }
  f64(v: number): void {
    this.ensure(8);
    this.buf.writeDoubleBE(v, this.length);
    this.length += 8;
  }
  u64(v: number): void {
    this.u32(Math.floor(v / 0x1_0000_0000));
    this.u32(v % 0x1_0000_0000);
  }
  bytes(v: Uint8Array): void {
    if (v.length > 0xffff) throw new CodecError("field longer than 65535 bytes");
    this.u16(v.length);
    this.raw(v);
  }
  str(v: string): void {
    // Names and addresses are short and ASCII: write them without TextEncoder (hot path).
    if (v.length <= 64) {
      this.ensure(2 + v.length);
      const start = this.length;
      this.length += 2;
      let ascii = true;
      for (let i = 0; i < v.length; i++) {
        const c = v.charCodeAt(i);
        if (c >= 0x80) {
          ascii = false;
          break;
        }
        this.buf[this.length++] = c;
      }
      if (ascii) {
        this.buf.writeUInt16BE(v.length, start);
        return;
      }
      this.length = start;
    }
    this.bytes(encoder.encode(v));
  }
  raw(v: Uint8Array): void {
    this.ensure(v.length);
    this.buf.set(v, this.length);
    this.length += v.length;
  }
  finish(): Buffer {
    return this.buf.subarray(0, this.length);
  }
}

/** Strings up to this many bytes are interned by Reader.str (names, addresses). */
const INTERN_MAX_BYTES = 48;
const INTERN_MAX_ENTRIES = 1 << 16;
/** asciiHash of a short ASCII string's bytes → the string (a collision just replaces it). */
const interned = new Map<number, string>();

export class Reader {
  private pos = 0;
  private readonly buf: Buffer;
  constructor(data: Uint8Array) {
    this.buf = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  }
  private need(n: number): void {
    if (this.pos + n > this.buf.length) throw new CodecError("truncated");
  }
  get remaining(): number {
    return this.buf.length - this.pos;
  }
  u8(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }
  u16(): number {
    this.need(2);
    const v = (this.buf[this.pos]! << 8) | this.buf[this.pos + 1]!;
    this.pos += 2;
    return v;
  }
  u32(): number {
    this.need(4);
    const b = this.buf;
    const p = this.pos;
    this.pos += 4;
    return ((b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!) >>> 0;
  }
  u64(): number {
    const high = this.u32();
    return high * 0x1_0000_0000 + this.u32();
  }
  f64(): number {
    this.need(8);
    const v = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 8).getFloat64(0);
    this.pos += 8;
    return v;
  }
  /** A view into the packet (no copy): copy it before keeping it. */
  bytes(): Uint8Array {
    const n = this.u16();
    if (n === 0) return EMPTY_BYTES;
    this.need(n);
    const v = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }
  str(): string {
    const n = this.u16();
    this.need(n);
    const b = this.buf;
    const start = this.pos;
    this.pos += n;
    // Names and addresses are short and ASCII: a flat latin1 string, no TextDecoder (hot path).
    if (n > INTERN_MAX_BYTES) {
      for (let i = start; i < start + n; i++) if (b[i]! >= 0x80) return this.utf8(start, n);
      return b.toString("latin1", start, start + n);
    }
    // The same few hundred names and addresses arrive in every packet: hand out the string
    // decoded last time for the same bytes (no allocation, its hash already computed).
    const h = asciiHash(b, start, n);
    if (h === -1) return this.utf8(start, n);
    const known = interned.get(h);
    if (known !== undefined && known.length === n) {
      let same = true;
      for (let i = 0; i < n; i++) {
        if (known.charCodeAt(i) !== b[start + i]) {
          same = false;
          break;
        }
      }
      if (same) return known;
    }
    const s = b.toString("latin1", start, start + n);
    if (interned.size >= INTERN_MAX_ENTRIES) interned.clear();
    interned.set(h, s);
    return s;
  }
  private utf8(start: number, n: number): string {
    try {
      return decoder.decode(this.buf.subarray(start, start + n));
    } catch {
      throw new CodecError("bad utf-8");
    }
  }
  get position(): number {
    return this.pos;
  }
  /** Moves to `end` (the end of a length-prefixed body); a body read past it is corrupt. */
  seek(end: number): void {
    if (this.pos > end || end > this.buf.length) throw new CodecError("body overrun");
    this.pos = end;
  }
}

/** One message with its type and length prefix, ready to be appended to a packet. */
export function encodeMessage(msg: Message): Buffer {
  const body = new Writer(64);
  body.u8(msg.type);
  body.u16(0); // body length, patched below
  switch (msg.type) {
    case MessageType.Ping:
      body.u32(msg.seq);
      body.str(msg.target);
      break;
    case MessageType.PingReq:
      body.u32(msg.seq);
      body.str(msg.target);
      body.str(msg.targetAddress);
      break;
    case MessageType.Ack:
    case MessageType.Nack:
      body.u32(msg.seq);
      break;
    case MessageType.Alive:
      body.str(msg.name);
      body.str(msg.address);
      body.u64(msg.incarnation);
      body.bytes(msg.meta);
      if (msg.proof) body.bytes(msg.proof);
      break;
    case MessageType.Suspect:
      body.str(msg.name);
      body.u64(msg.incarnation);
      body.str(msg.from);
      break;
    case MessageType.Dead:
      body.str(msg.name);
      body.u64(msg.incarnation);
      body.str(msg.from);
      if (msg.proof) body.bytes(msg.proof);
      break;
  }
  const out = body.finish();
  if (out.length - 3 > 0xffff) throw new CodecError("message too large");
  out.writeUInt16BE(out.length - 3, 1);
  return out;
}

/** A member name: 1–255 bytes, no control characters. */
export function validName(v: string): boolean {
  if (v.length === 0 || v.length > MAX_NAME_BYTES) return false;
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return false;
  }
  return true;
}

/** "host:port" with a port in 1–65535 and a host without spaces or control characters. */
export function validAddress(v: string): boolean {
  if (v.length > MAX_ADDRESS_BYTES) return false;
  const idx = v.lastIndexOf(":");
  if (idx <= 0) return false;
  // Fast path (every address of every alive is checked): printable ASCII host, 1–5 digit port.
  let plain = v.length - idx - 1 >= 1 && v.length - idx - 1 <= 5;
  let digits = 0;
  for (let i = idx + 1; plain && i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c < 48 || c > 57) plain = false;
    else digits = digits * 10 + (c - 48);
  }
  for (let i = 0; plain && i < idx; i++) {
    const c = v.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f) plain = false;
  }
  if (plain) return digits >= 1 && digits <= 65535;
  const port = Number(v.slice(idx + 1));
  return Number.isInteger(port) && port >= 1 && port <= 65535 && /^[^\s\x00-\x1f\x7f]+$/.test(v.slice(0, idx));
}

function validIncarnation(v: number): boolean {
  return v <= MAX_INCARNATION;
}

/** Decodes one body; null for an unknown type, "invalid" for a known one with a bad field. */
function decodeBody(type: number, r: Reader, end: number): Message | null | "invalid" {
  switch (type) {
    case MessageType.Ping: {
      const msg: PingMsg = { type, seq: r.u32(), target: r.str() };
      return validName(msg.target) ? msg : "invalid";
    }
    case MessageType.PingReq: {
      const msg: PingReqMsg = { type, seq: r.u32(), target: r.str(), targetAddress: r.str() };
      return validName(msg.target) && validAddress(msg.targetAddress) ? msg : "invalid";
    }
    case MessageType.Ack:
    case MessageType.Nack:
      return { type, seq: r.u32() };
    case MessageType.Alive: {
      const msg: AliveMsg = { type, name: r.str(), address: r.str(), incarnation: r.u64(), meta: r.bytes() };
      if (r.position < end) msg.proof = r.bytes();
      return validName(msg.name) && validAddress(msg.address) && validIncarnation(msg.incarnation) ? msg : "invalid";
    }
    case MessageType.Suspect:
    case MessageType.Dead: {
      const msg: SuspectMsg | DeadMsg = { type, name: r.str(), incarnation: r.u64(), from: r.str() };
      if (msg.type === MessageType.Dead && r.position < end) msg.proof = r.bytes();
      return validName(msg.name) && validName(msg.from) && validIncarnation(msg.incarnation) ? msg : "invalid";
    }
    default:
      return null;
  }
}

export function encodeHeader(header: PacketHeader): Buffer {
  const w = new Writer(32 + header.sender.length);
  w.u8(PROTOCOL_VERSION);
  w.f64(header.sentAt);
  w.str(header.sender);
  return w.finish();
}

/** Header followed by already-encoded messages (`primary`, then `extra`), in one allocation. */
export function assemblePacket(header: Buffer, primary: readonly Uint8Array[], extra: readonly Uint8Array[] = []): Buffer {
  let length = header.length;
  for (const m of primary) length += m.length;
  for (const m of extra) length += m.length;
  const out = Buffer.allocUnsafe(length);
  out.set(header, 0);
  let at = header.length;
  for (const m of primary) {
    out.set(m, at);
    at += m.length;
  }
  for (const m of extra) {
    out.set(m, at);
    at += m.length;
  }
  return out;
}

/**
 * `held`: the receiver's members other than itself, for alives it holds already (see
 * known-news.ts, `ceiling` the highest incarnation believable): those are not decoded, only
 * counted in `held`.
 */
export function decodePacket(data: Uint8Array, held?: NameIndex<HeldMember>, ceiling = Number.POSITIVE_INFINITY): Packet {
  const r = new Reader(data);
  const version = r.u8();
  if (version !== PROTOCOL_VERSION) throw new VersionError(version);
  const sentAt = r.f64();
  const sender = r.str();
  if (!validName(sender)) throw new CodecError("bad sender name");
  const messages: Message[] = [];
  let unknown = 0;
  let invalid = 0;
  let skipped = 0;
  const touched: HeldMember[] = [];
  const after = { pos: 0 };
  while (r.remaining > 0) {
    const type = r.u8();
    const len = r.u16();
    const end = r.position + len;
    if (end > data.length) throw new CodecError("truncated");
    if (type === MessageType.Alive && held && heldAlive(data, r.position, end, held, ceiling, touched, after) && proofFits(data, after.pos, end)) {
      skipped++;
      r.seek(end);
      continue;
    }
    const msg = decodeBody(type, r, end);
    r.seek(end); // also skips unknown types and fields appended by newer versions
    if (msg === "invalid") invalid++;
    else if (msg) messages.push(msg);
    else unknown++;
  }
  return { sentAt, sender, messages, unknown, invalid, held: skipped };
}

/** An alive's optional trailing proof, from `pos`, is framed within `end` (as decodeBody reads it). */
function proofFits(data: Uint8Array, pos: number, end: number): boolean {
  if (pos === end) return true;
  return pos + 2 <= end && pos + 2 + ((data[pos]! << 8) | data[pos + 1]!) <= end;
}

export function encodeSync(payload: SyncPayload): Buffer {
  const w = new Writer(64 + payload.entries.length * 48);
  w.u8(PROTOCOL_VERSION);
  w.f64(payload.sentAt);
  w.str(payload.sender);
  const proofs = payload.entries.some((e) => e.proof || e.cert);
  w.u8((payload.join ? SYNC_JOIN : 0) | (payload.conflict ? SYNC_CONFLICT : 0) | (proofs ? SYNC_PROOFS : 0));
  w.u32(payload.entries.length);
  const none = new Uint8Array();
  for (const e of payload.entries) {
    w.str(e.name);
    w.str(e.address);
    w.u64(e.incarnation);
    w.u8(STATE_CODES.indexOf(e.state));
    w.bytes(e.meta);
    if (proofs) {
      w.bytes(e.proof ?? none);
      w.bytes(e.cert ?? none);
    }
  }
  return w.finish();
}

/**
 * `held`: as for decodePacket, alive entries the receiver holds are skipped (not in `entries`);
 * never with proofs (each entry's certificate is learnt) nor in a refused join's answer.
 */
export function decodeSync(data: Uint8Array, held?: NameIndex<HeldMember>, ceiling = Number.POSITIVE_INFINITY): SyncPayload {
  const r = new Reader(data);
  const version = r.u8();
  if (version !== PROTOCOL_VERSION) throw new VersionError(version);
  const sentAt = r.f64();
  const sender = r.str();
  if (!validName(sender)) throw new CodecError("bad sender name");
  const flags = r.u8();
  const count = r.u32();
  if (count > r.remaining) throw new CodecError("bad entry count");
  const entries: StateEntry[] = [];
  let invalid = 0;
  const skip = held && (flags & (SYNC_PROOFS | SYNC_CONFLICT)) === 0 ? held : undefined;
  const touched: HeldMember[] = [];
  const after = { pos: 0 };
  for (let i = 0; i < count; i++) {
    if (skip && heldAlive(data, r.position, data.length, skip, ceiling, touched, after, true)) {
      r.seek(after.pos);
      continue;
    }
    const name = r.str();
    const address = r.str();
    const incarnation = r.u64();
    const state = STATE_CODES[r.u8()];
    const meta = r.bytes();
    const proof = flags & SYNC_PROOFS ? r.bytes() : undefined;
    const cert = flags & SYNC_PROOFS ? r.bytes() : undefined;
    if (!(state && validName(name) && validAddress(address) && validIncarnation(incarnation))) {
      invalid++;
      continue;
    }
    const entry: StateEntry = { name, address, incarnation, state, meta };
    if (proof && proof.length > 0) entry.proof = proof;
    if (cert && cert.length > 0) entry.cert = cert;
    entries.push(entry);
  }
  return { sentAt, sender, join: (flags & SYNC_JOIN) !== 0, conflict: (flags & SYNC_CONFLICT) !== 0, entries, invalid };
}
