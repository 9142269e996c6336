import type { Socket } from "node:net";
import { FrameDecoder } from "../framing.js";

/**
 * Reads length-prefixed frames from a socket: pulled one at a time during the handshake,
 * then pushed to a callback. Frames that arrived with the last handshake frame are kept,
 * so nothing is lost at the switch.
 */
/** Before the handshake completes the peer is unauthenticated: it gets this little buffer. */
const HANDSHAKE_BUFFER_LIMIT = 8 * 1024;

export class FrameReader {
  private unframedBytes = 0;
  private readonly decoder: FrameDecoder;
  private readonly queued: Buffer[] = [];
  private waiter: { resolve: (f: Buffer) => void; reject: (e: Error) => void } | null = null;
  private sink: ((frame: Buffer) => void) | null = null;
  private failure: Error | null = null;
  /** performance.now() of the last bytes received: the liveness check reads it. */
  lastReceivedAt = performance.now();

  constructor(
    private readonly socket: Socket,
    head: Buffer,
    maxFrame: number,
  ) {
    this.decoder = new FrameDecoder(maxFrame);
    socket.on("data", (chunk: Buffer) => this.onBytes(chunk));
    socket.on("close", () => this.fail(new Error("connection closed")));
    // HTTP servers accept sockets with allowHalfOpen: a peer's FIN must still end the link.
    socket.on("end", () => socket.destroy());
    socket.on("error", (err) => this.fail(err));
    if (head.length > 0) this.onBytes(head);
  }

  /** The next frame, or a rejection when the socket fails or `timeoutMs` passes. */
  next(timeoutMs: number): Promise<Buffer> {
    const frame = this.queued.shift();
    if (frame) return Promise.resolve(frame);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = null;
        reject(new Error("handshake timed out"));
      }, timeoutMs);
      this.waiter = {
        resolve: (f) => {
          clearTimeout(timer);
          resolve(f);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
    });
  }

  /** Switches to push mode: every frame (queued ones first) goes to `sink`. */
  stream(sink: (frame: Buffer) => void): void {
    this.sink = sink;
    while (this.queued.length > 0 && this.sink === sink && !this.socket.destroyed) this.deliver(sink, this.queued.shift()!);
  }

  /** A throwing sink closes this connection only; it must never reach the process. */
  private deliver(sink: (frame: Buffer) => void, frame: Buffer): void {
    try {
      sink(frame);
    } catch (err) {
      this.socket.destroy(err instanceof Error ? err : new Error(String(err)));
    }
  }

  private onBytes(chunk: Buffer): void {
    this.lastReceivedAt = performance.now();
    let frames: Buffer[];
    try {
      frames = this.decoder.push(chunk);
    } catch (err) {
      this.socket.destroy(err instanceof Error ? err : new Error(String(err)));
      return;
    }
    this.unframedBytes = frames.length > 0 ? 0 : this.unframedBytes + chunk.length;
    if (!this.sink && this.unframedBytes > HANDSHAKE_BUFFER_LIMIT) {
      this.socket.destroy(new Error("handshake frame too large"));
      return;
    }
    for (const frame of frames) {
      if (this.socket.destroyed) return;
      if (this.sink) this.deliver(this.sink, frame);
      else if (this.waiter) {
        const w = this.waiter;
        this.waiter = null;
        w.resolve(frame);
      } else if (this.queued.push(frame) > 16) {
        this.socket.destroy(new Error("too many frames during the handshake"));
        return;
      }
    }
  }

  private fail(err: Error): void {
    if (!this.failure) this.failure = err;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      w.reject(this.failure);
    }
  }
}
