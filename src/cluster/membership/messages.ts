/**
 * Wire codec of the membership protocol (inside the keyring seal).
 * Packet:  [protocol version u8][sent at f64][sender name] then messages, each
 *          [type u8][body length u16][body]; unknown types are skipped by length, so the
 *          type enum is append-only and older members ignore newer messages.
 * Sync (push-pull over exchange): [version u8][sent at f64][sender name][join u8][count u32][entries].
 * Strings are u16-length-prefixed UTF-8. Decoders throw CodecError; callers count it as a drop.
 */
export const PROTOCOL_VERSION = 1;

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
export interface AliveMsg { type: MessageType.Alive; name: string; address: string; incarnation: number; meta: Uint8Array }
export interface SuspectMsg { type: MessageType.Suspect; name: string; incarnation: number; from: string }
export interface DeadMsg { type: MessageType.Dead; name: string; incarnation: number; from: string }
export type Message = PingMsg | PingReqMsg | AckMsg | NackMsg | AliveMsg | SuspectMsg | DeadMsg;

export interface PacketHeader { sentAt: number; sender: string }
export interface Packet extends PacketHeader { messages: Message[]; unknown: number }

export interface StateEntry { name: string; address: string; incarnation: number; state: WireState; meta: Uint8Array }
export interface SyncPayload extends PacketHeader { join: boolean; entries: StateEntry[] }

export class CodecError extends Error {}

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
  f64(): number {
    this.need(8);
    const v = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 8).getFloat64(0);
    this.pos += 8;
    return v;
  }
  /** A view into the packet (no copy): copy it before keeping it. */
  bytes(): Uint8Array {
    const n = this.u16();
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
    for (let i = start; i < start + n; i++) if (b[i]! >= 0x80) return this.utf8(start, n);
    return b.toString("latin1", start, start + n);
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
      body.u32(msg.incarnation);
      body.bytes(msg.meta);
      break;
    case MessageType.Suspect:
    case MessageType.Dead:
      body.str(msg.name);
      body.u32(msg.incarnation);
      body.str(msg.from);
      break;
  }
  const out = body.finish();
  if (out.length - 3 > 0xffff) throw new CodecError("message too large");
  out.writeUInt16BE(out.length - 3, 1);
  return out;
}

function decodeBody(type: number, r: Reader): Message | null {
  switch (type) {
    case MessageType.Ping:
      return { type, seq: r.u32(), target: r.str() };
    case MessageType.PingReq:
      return { type, seq: r.u32(), target: r.str(), targetAddress: r.str() };
    case MessageType.Ack:
    case MessageType.Nack:
      return { type, seq: r.u32() };
    case MessageType.Alive:
      return { type, name: r.str(), address: r.str(), incarnation: r.u32(), meta: r.bytes() };
    case MessageType.Suspect:
    case MessageType.Dead:
      return { type, name: r.str(), incarnation: r.u32(), from: r.str() };
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

/** Header followed by already-encoded messages. */
export function assemblePacket(header: Buffer, messages: readonly Uint8Array[]): Buffer {
  return Buffer.concat([header, ...messages]);
}

export function decodePacket(data: Uint8Array): Packet {
  const r = new Reader(data);
  const version = r.u8();
  if (version !== PROTOCOL_VERSION) throw new CodecError(`protocol version ${version}`);
  const sentAt = r.f64();
  const sender = r.str();
  const messages: Message[] = [];
  let unknown = 0;
  while (r.remaining > 0) {
    const type = r.u8();
    const len = r.u16();
    const end = r.position + len;
    if (end > data.length) throw new CodecError("truncated");
    const msg = decodeBody(type, r);
    r.seek(end); // also skips unknown types and fields appended by newer versions
    if (msg) messages.push(msg);
    else unknown++;
  }
  return { sentAt, sender, messages, unknown };
}

export function encodeSync(payload: SyncPayload): Buffer {
  const w = new Writer(64 + payload.entries.length * 48);
  w.u8(PROTOCOL_VERSION);
  w.f64(payload.sentAt);
  w.str(payload.sender);
  w.u8(payload.join ? 1 : 0);
  w.u32(payload.entries.length);
  for (const e of payload.entries) {
    w.str(e.name);
    w.str(e.address);
    w.u32(e.incarnation);
    w.u8(STATE_CODES.indexOf(e.state));
    w.bytes(e.meta);
  }
  return w.finish();
}

export function decodeSync(data: Uint8Array): SyncPayload {
  const r = new Reader(data);
  const version = r.u8();
  if (version !== PROTOCOL_VERSION) throw new CodecError(`protocol version ${version}`);
  const sentAt = r.f64();
  const sender = r.str();
  const join = r.u8() === 1;
  const count = r.u32();
  if (count > r.remaining) throw new CodecError("bad entry count");
  const entries: StateEntry[] = [];
  for (let i = 0; i < count; i++) {
    const name = r.str();
    const address = r.str();
    const incarnation = r.u32();
    const state = STATE_CODES[r.u8()];
    if (!state) throw new CodecError("bad state");
    entries.push({ name, address, incarnation, state, meta: r.bytes() });
  }
  return { sentAt, sender, join, entries };
}
