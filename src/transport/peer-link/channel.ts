import { createCipheriv, createDecipheriv } from "node:crypto";
import type { Socket } from "node:net";
import { systemClock, type Clock } from "../../util/clock.js";
import type { FrameReader } from "./frame-reader.js";
import type { SessionKeys } from "./handshake.js";
import { FRAME_HEAD } from "./messages.js";

/**
 * The record layer of an established link. Frames (messages.ts) queued during one turn of
 * the event loop (up to FLUSH_AT_FRAMES of them) are written straight into one send buffer, which is sealed once as one
 * record with AES-256-GCM (per-direction key, 64-bit counter nonce: a replayed, reordered or
 * dropped record fails to open) and written with one socket write. Batching is what makes the
 * link fast: the cipher setup (one createCipheriv per record — Node has no way to re-key a
 * GCM context with a new nonce) and the syscall are paid per record, not per call.
 * Record: [u32 length][ciphertext][tag 16] — or [u32 length][plaintext] in development mode.
 */
const TAG_BYTES = 16;
/** The record's length field sits in front of the frames in the send buffer. */
const RECORD_HEAD = 4;
/** Flush at once past this many queued bytes (less with a small frame limit). */
const FLUSH_AT_BYTES = 256 * 1024;
/**
 * Flush at once after this many queued frames. Waiting for the end of the turn with 100 calls
 * queued sends them as one record: the peer idles while this side builds it, and this side
 * idles while the peer answers it (the two processes take turns, each core busy half the
 * time). Records of 16 frames let the peer start on the first calls while the rest are being
 * made, and still spread the record's seal and write over 16 calls.
 */
export const FLUSH_AT_FRAMES = 16;
const INITIAL_BUFFER = 16 * 1024;
/** A send buffer grown past this for a big message is dropped after its flush. */
const KEEP_BUFFER_UP_TO = 1024 * 1024;

/** One frame of a record: its kind, and its body as [start, end) of `buf` (valid during the call only). */
export type ChannelFrameHandler = (kind: number, buf: Buffer, start: number, end: number) => void;

export class Channel {
  private out: Buffer = Buffer.allocUnsafe(INITIAL_BUFFER);
  /** End of the queued frames in `out` (they start at RECORD_HEAD). */
  private used = RECORD_HEAD;
  private flushScheduled = false;
  private sendCounter = 0;
  private receiveCounter = 0;
  private readonly sendNonce = Buffer.alloc(12);
  private readonly receiveNonce = Buffer.alloc(12);
  /** Frames committed so far; each commit returns its sequence number. */
  private enqueued = 0;
  /** Frames written to the socket so far: any with a sequence ≤ this may have reached the peer. */
  flushed = 0;
  private closeReason: string | null = null;
  private readonly flushAt: number;
  /** Largest run of frames one record may carry. */
  private readonly maxPayload: number;
  /** Records written; `flushed / recordsSent` is how many frames each write carried. */
  recordsSent = 0;
  /** Records received and opened so far. */
  recordsReceived = 0;

  constructor(
    private readonly socket: Socket,
    private readonly keys: SessionKeys,
    private readonly onFrame: ChannelFrameHandler,
    maxRecordBytes: number,
    private readonly reader: FrameReader,
    private readonly clock: Clock = systemClock,
  ) {
    this.maxPayload = maxRecordBytes - TAG_BYTES;
    this.flushAt = Math.max(1, Math.min(FLUSH_AT_BYTES, this.maxPayload));
  }

  /** Starts delivering frames (separate from the constructor so callers can hold the channel first). */
  start(): void {
    this.reader.stream((record) => this.onRecord(record));
  }

  get open(): boolean {
    return this.closeReason === null && !this.socket.destroyed;
  }

  /** Why the channel closed (null while open). */
  get reason(): string | null {
    return this.closeReason;
  }

  /** Largest frame (in bytes) one message may take. */
  get maxFrameBytes(): number {
    return this.maxPayload;
  }

  /**
   * The send buffer with room for a frame of up to `bound` bytes at `writeAt`; write the frame
   * there and `commit` its end before anything else is sent.
   */
  reserve(bound: number): Buffer {
    const need = this.used + bound;
    if (need > this.out.length) {
      const grown = Buffer.allocUnsafe(Math.max(need, this.out.length * 2));
      this.out.copy(grown, 0, 0, this.used);
      this.out = grown;
    }
    return this.out;
  }

  get writeAt(): number {
    return this.used;
  }

  /**
   * Queues the frame written at `writeAt` up to `end`; returns its sequence number (see
   * `flushed`), or -1 (nothing queued) if it exceeds the frame limit. A record carries
   * several frames under the limit, or one big frame on its own.
   */
  commit(end: number): number {
    const start = this.used;
    const size = end - start;
    if (size > this.maxPayload) return -1;
    this.used = end;
    // Too big to join the queued frames: they leave as a record of their own first.
    if (start > RECORD_HEAD && start - RECORD_HEAD + size > this.maxPayload) this.flushUpTo(start);
    const seq = ++this.enqueued;
    if (this.used - RECORD_HEAD >= this.flushAt || seq - this.flushed >= FLUSH_AT_FRAMES) this.flush();
    else if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flushSoon);
    }
    return seq;
  }

  close(reason: string): void {
    if (this.closeReason === null) this.closeReason = reason;
    this.used = RECORD_HEAD;
    this.socket.destroy();
  }

  /** Closes after writing what is queued (a drained link: the last answers must still arrive). */
  end(reason: string): void {
    if (!this.open) return;
    this.flush();
    this.closeReason = reason;
    this.socket.end();
    this.clock.setTimeout(() => this.socket.destroy(), 1000);
  }

  private readonly flushSoon = (): void => {
    this.flushScheduled = false;
    this.flush();
  };

  private flush(): void {
    this.flushUpTo(this.used);
  }

  /** Writes the frames in [RECORD_HEAD, end) as one record; frames after `end` move to the front. */
  private flushUpTo(end: number): void {
    if (end === RECORD_HEAD || !this.open) return;
    const out = this.out;
    const length = end - RECORD_HEAD;
    let record: Buffer;
    if (this.keys.send) {
      writeCounter(this.sendNonce, this.sendCounter++);
      const cipher = createCipheriv("aes-256-gcm", this.keys.send, this.sendNonce);
      const body = cipher.update(out.subarray(RECORD_HEAD, end));
      cipher.final();
      record = Buffer.allocUnsafe(RECORD_HEAD + length + TAG_BYTES);
      record.writeUInt32BE(length + TAG_BYTES, 0);
      body.copy(record, RECORD_HEAD);
      cipher.getAuthTag().copy(record, RECORD_HEAD + length);
    } else {
      // The send buffer is reused at once: the socket gets a copy.
      out.writeUInt32BE(length, 0);
      record = Buffer.allocUnsafe(end);
      out.copy(record, 0, 0, end);
    }
    this.socket.write(record);
    const rest = this.used - end;
    if (rest > 0) out.copy(out, RECORD_HEAD, end, this.used);
    this.used = RECORD_HEAD + rest;
    this.flushed = this.enqueued; // a frame after `end` is the one being committed
    this.recordsSent++;
    if (this.used === RECORD_HEAD && out.length > KEEP_BUFFER_UP_TO) this.out = Buffer.allocUnsafe(INITIAL_BUFFER);
  }

  private onRecord(record: Buffer): void {
    let frames: Buffer;
    if (this.keys.receive) {
      if (record.length < TAG_BYTES) return this.close("record too short");
      writeCounter(this.receiveNonce, this.receiveCounter++);
      try {
        const decipher = createDecipheriv("aes-256-gcm", this.keys.receive, this.receiveNonce);
        decipher.setAuthTag(record.subarray(record.length - TAG_BYTES));
        frames = decipher.update(record.subarray(0, record.length - TAG_BYTES));
        decipher.final();
      } catch {
        return this.close("record failed authentication");
      }
    } else {
      frames = record;
    }
    this.recordsReceived++;
    let at = 0;
    while (at < frames.length) {
      if (!this.open) return;
      if (frames.length - at < FRAME_HEAD) return this.close("malformed record");
      const end = at + 4 + frames.readUInt32BE(at);
      if (end > frames.length || end < at + FRAME_HEAD) return this.close("malformed record");
      this.onFrame(frames[at + 4]!, frames, at + FRAME_HEAD, end);
      at = end;
    }
  }
}

function writeCounter(nonce: Buffer, counter: number): void {
  nonce.writeUInt32BE(Math.floor(counter / 0x1_0000_0000), 4);
  nonce.writeUInt32BE(counter >>> 0, 8);
}
