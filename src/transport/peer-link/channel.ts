import { createCipheriv, createDecipheriv } from "node:crypto";
import type { Socket } from "node:net";
import { systemClock, type Clock } from "../../util/clock.js";
import type { FrameReader } from "./frame-reader.js";
import type { SessionKeys } from "./handshake.js";

/**
 * The record layer of an established link. Messages (JSON texts) queued during one turn
 * of the event loop are joined with "\n" into one record, sealed once with AES-256-GCM
 * (per-direction key, counter nonce: a replayed, reordered or dropped record fails to
 * open) and written with one socket write. Batching is what makes the link fast: the
 * cipher setup, the syscall and the JSON.parse are paid per record, not per call.
 * Record: [u32 length][ciphertext][tag 16] — or [u32 length][plaintext] in development mode.
 */
const TAG_BYTES = 16;
/** Flush at once past this many queued characters (less with a small frame limit). */
const FLUSH_AT_CHARS = 256 * 1024;

export type ChannelMessageHandler = (message: Record<string, unknown>) => void;

export class Channel {
  private queue: string[] = [];
  private queuedChars = 0;
  private flushScheduled = false;
  private sendCounter = 0;
  private receiveCounter = 0;
  private readonly sendNonce = Buffer.alloc(12);
  private readonly receiveNonce = Buffer.alloc(12);
  /** Messages handed to send() so far; each send() returns its sequence number. */
  private enqueued = 0;
  /** Messages written to the socket so far: any with a sequence ≤ this may have reached the peer. */
  flushed = 0;
  private closeReason: string | null = null;
  private readonly flushAt: number;
  /** Records written; `flushed / recordsSent` is how many messages each write carried. */
  recordsSent = 0;

  constructor(
    private readonly socket: Socket,
    private readonly keys: SessionKeys,
    private readonly onMessage: ChannelMessageHandler,
    private readonly maxRecordBytes: number,
    private readonly reader: FrameReader,
    private readonly clock: Clock = systemClock,
  ) {
    this.flushAt = Math.max(1, Math.min(FLUSH_AT_CHARS, Math.floor((maxRecordBytes - TAG_BYTES) / 3) - 1));
  }

  /** Starts delivering messages (separate from the constructor so callers can hold the channel first). */
  start(): void {
    this.reader.stream((frame) => this.onRecord(frame));
  }

  get open(): boolean {
    return this.closeReason === null && !this.socket.destroyed;
  }

  /** Why the channel closed (null while open). */
  get reason(): string | null {
    return this.closeReason;
  }

  /** Queues one JSON text; returns its sequence number (see `flushed`). */
  send(json: string): number {
    // A record holds either several messages under flushAt characters (≤ 3 bytes each in
    // UTF-8, so under the frame limit) or one big message on its own.
    if (this.queuedChars > 0 && this.queuedChars + json.length > this.flushAt) this.flush();
    this.queue.push(json);
    this.queuedChars += json.length;
    const seq = ++this.enqueued;
    if (this.queuedChars >= this.flushAt) this.flush();
    else if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flushSoon);
    }
    return seq;
  }

  /** Largest JSON text (in UTF-8 bytes) a single message may have. */
  get maxMessageBytes(): number {
    return this.maxRecordBytes - TAG_BYTES - 1;
  }

  close(reason: string): void {
    if (this.closeReason === null) this.closeReason = reason;
    this.queue = [];
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
    if (this.queue.length === 0 || !this.open) return;
    const text = this.queue.length === 1 ? this.queue[0]! : this.queue.join("\n");
    this.queue = [];
    this.queuedChars = 0;
    let record: Buffer;
    if (this.keys.send) {
      writeCounter(this.sendNonce, this.sendCounter++);
      const cipher = createCipheriv("aes-256-gcm", this.keys.send, this.sendNonce);
      const body = cipher.update(text, "utf8");
      cipher.final();
      const tag = cipher.getAuthTag();
      record = Buffer.allocUnsafe(4 + body.length + TAG_BYTES);
      record.writeUInt32BE(body.length + TAG_BYTES, 0);
      body.copy(record, 4);
      tag.copy(record, 4 + body.length);
    } else {
      const length = Buffer.byteLength(text);
      record = Buffer.allocUnsafe(4 + length);
      record.writeUInt32BE(length, 0);
      record.write(text, 4, "utf8");
    }
    this.socket.write(record);
    this.flushed = this.enqueued;
    this.recordsSent++;
  }

  private onRecord(frame: Buffer): void {
    let text: string;
    if (this.keys.receive) {
      if (frame.length < TAG_BYTES) return this.close("record too short");
      writeCounter(this.receiveNonce, this.receiveCounter++);
      try {
        const decipher = createDecipheriv("aes-256-gcm", this.keys.receive, this.receiveNonce);
        decipher.setAuthTag(frame.subarray(frame.length - TAG_BYTES));
        text = decipher.update(frame.subarray(0, frame.length - TAG_BYTES)).toString("utf8");
        decipher.final();
      } catch {
        return this.close("record failed authentication");
      }
    } else {
      text = frame.toString("utf8");
    }
    let messages: unknown;
    try {
      // JSON texts never contain a raw newline, so the record parses as one array.
      messages = JSON.parse(`[${text.replaceAll("\n", ",")}]`);
    } catch {
      return this.close("malformed record");
    }
    for (const message of messages as unknown[]) {
      if (!this.open) return;
      if (!message || typeof message !== "object") return this.close("malformed message");
      this.onMessage(message as Record<string, unknown>);
    }
  }
}

function writeCounter(nonce: Buffer, counter: number): void {
  nonce.writeUInt32BE(Math.floor(counter / 0x1_0000_0000), 4);
  nonce.writeUInt32BE(counter >>> 0, 8);
}
