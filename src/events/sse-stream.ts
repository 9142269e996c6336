import type { ServerResponse } from "node:http";
import type { Clock, Timer } from "../util/clock.js";
import type { ClusterEvent } from "./bus.js";

export interface SseStreamOptions {
  /** Bytes the stream may have queued and not yet handed to the kernel before the client is dropped. */
  maxBufferedBytes: number;
  /** A comment line is sent this often so dead clients are noticed and proxies keep the stream. */
  heartbeatMs: number;
  clock: Clock;
  onClose(reason: string): void;
}

/** One `text/event-stream` answer: frames events, and drops a client that does not keep up. */
export class SseStream {
  private closed = false;
  private readonly heartbeat: Timer;

  constructor(
    private readonly res: ServerResponse,
    private readonly options: SseStreamOptions,
  ) {
    res.on("close", () => this.close("client closed"));
    res.on("error", () => this.close("socket error"));
    this.heartbeat = options.clock.setInterval(() => this.write(": keep-alive\n\n"), options.heartbeatMs);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** `id` is left out for frames that must not move the client's resume point (the greeting). */
  send(event: Pick<ClusterEvent, "type" | "data"> & { id?: number }): void {
    const idLine = event.id === undefined ? "" : `id: ${event.id}\n`;
    this.write(`${idLine}event: ${event.type}\ndata: ${JSON.stringify(event.data)}\n\n`);
  }

  /** Ends the stream; a client that is still there sees a clean end and may reconnect. */
  close(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.heartbeat.cancel();
    this.options.onClose(reason);
    if (!this.res.writableEnded) this.res.end();
  }

  private write(frame: string): void {
    if (this.closed) return;
    // Node queues whatever the kernel does not take; a client that stops reading makes that
    // queue grow with every event, so past the bound the client is cut off, its memory freed.
    if (this.res.writableLength + frame.length > this.options.maxBufferedBytes) {
      this.closed = true;
      this.heartbeat.cancel();
      this.options.onClose("client too slow");
      this.res.destroy();
      return;
    }
    this.res.write(frame);
  }
}
