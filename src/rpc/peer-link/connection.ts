import type { Socket } from "node:net";
import { P2PError } from "../../errors.js";
import type { Keyring } from "../../security/keyring.js";
import { connectUpgrade } from "../../transport/upgrade.js";
import { Channel } from "./channel.js";
import { FrameReader } from "./frame-reader.js";
import { clientHandshake, type SessionKeys } from "./handshake.js";
import { LINK_PROTOCOL, type LinkCall, type LinkTarget } from "./types.js";

/**
 * Client side of one link: many calls in flight over one socket, matched by id.
 * When the socket breaks, every call fails at once: `not_sent` if its request was still
 * in the write queue, `connection_lost` if it may have reached the peer.
 */
const CONGESTED_BYTES = 32 * 1024 * 1024;

interface Pending {
  resolve: (value: unknown) => void;
  reject: (err: P2PError) => void;
  timer: NodeJS.Timeout;
  seq: number;
}

export interface ConnectionOptions {
  localNodeId: string;
  keyring: Keyring;
  connectTimeoutMs: number;
  maxFrameBytes: number;
  pingIntervalMs: number;
}

export class LinkConnection {
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private readonly channel: Channel;
  private readonly liveness: NodeJS.Timeout;
  private unusableHandlers: Array<() => void> = [];
  private closedHandlers: Array<() => void> = [];
  /** The peer said goaway: answers still come, new calls go to a new connection. */
  private draining = false;

  private constructor(
    readonly target: LinkTarget,
    private readonly socket: Socket,
    reader: FrameReader,
    keys: SessionKeys,
    sendLimit: number,
    pingIntervalMs: number,
  ) {
    this.channel = new Channel(socket, keys, (m) => this.onMessage(m), sendLimit, reader);
    socket.on("close", () => this.onClose());
    // Pings keep NAT/conntrack state warm and find a silently dead peer.
    this.liveness = setInterval(() => {
      const silentFor = performance.now() - reader.lastReceivedAt;
      if (silentFor > pingIntervalMs * 3) this.close("peer unresponsive");
      else if (silentFor > pingIntervalMs) this.channel.send('{"t":"ping"}');
    }, pingIntervalMs);
    this.liveness.unref();
    this.channel.start();
  }

  /** Connects, upgrades to p2p-link and runs the handshake. Rejects with HandshakeError or a socket error. */
  static async open(target: LinkTarget, opts: ConnectionOptions): Promise<LinkConnection> {
    const started = performance.now();
    const socket = await connectUpgrade(target.host, target.port, LINK_PROTOCOL, opts.connectTimeoutMs);
    try {
      const reader = new FrameReader(socket, Buffer.alloc(0), opts.maxFrameBytes);
      const left = Math.max(1, opts.connectTimeoutMs - (performance.now() - started));
      const { keys, sendLimit } = await clientHandshake(
        socket,
        reader,
        opts.keyring,
        opts.localNodeId,
        target.nodeId,
        left,
        opts.maxFrameBytes,
      );
      if (socket.destroyed) throw new Error("connection closed during handshake");
      return new LinkConnection(target, socket, reader, keys, sendLimit, opts.pingIntervalMs);
    } catch (err) {
      socket.destroy();
      throw err;
    }
  }

  get open(): boolean {
    return this.channel.open;
  }

  /** Open and not draining: new calls may use it. */
  get usable(): boolean {
    return !this.draining && this.channel.open;
  }

  /** Messages and records written so far (batching shows as messages/records > 1). */
  get written(): { messages: number; records: number } {
    return { messages: this.channel.flushed, records: this.channel.recordsSent };
  }

  get inFlight(): number {
    return this.pending.size;
  }

  onClosed(handler: () => void): void {
    this.closedHandlers.push(handler);
  }

  /** Called once, when the connection closes or the peer asks for no new calls. */
  onUnusable(handler: () => void): void {
    this.unusableHandlers.push(handler);
  }

  call(call: LinkCall, timeoutMs: number): Promise<unknown> {
    if (!this.channel.open) {
      return Promise.reject(new P2PError("UNAVAILABLE", `peer link to ${this.target.nodeId} is closed`, { reason: "not_sent" }));
    }
    if (this.socket.writableLength > CONGESTED_BYTES) {
      // The peer or the network is not keeping up: fail fast rather than queue without bound.
      return Promise.reject(new P2PError("UNAVAILABLE", `peer link to ${this.target.nodeId} is congested`, { reason: "not_sent" }));
    }
    const id = ++this.nextId;
    const json = JSON.stringify({
      t: "q",
      id,
      s: call.service,
      m: call.method,
      p: call.params,
      c: call.caller,
      to: Math.max(1, Math.floor(timeoutMs)),
      tp: call.traceparent,
    });
    // UTF-8 needs at most 3 bytes per UTF-16 unit: only long texts are measured.
    if (json.length * 3 > this.channel.maxMessageBytes && Buffer.byteLength(json) > this.channel.maxMessageBytes) {
      return Promise.reject(new P2PError("PAYLOAD_TOO_LARGE", `call of ${json.length} bytes exceeds the link frame limit`));
    }
    return new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => this.expire(id), timeoutMs);
      const seq = this.channel.send(json);
      this.pending.set(id, { resolve, reject, timer, seq });
    });
  }

  close(reason: string): void {
    this.channel.close(reason);
  }

  private expire(id: number): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    p.reject(new P2PError("TIMEOUT", `no answer from ${this.target.nodeId} within the deadline`));
  }

  private onMessage(message: Record<string, unknown>): void {
    const t = message.t;
    if (t === "r" || t === "e") {
      const id = message.id as number;
      const p = this.pending.get(id);
      if (!p) return; // answered after its deadline
      this.pending.delete(id);
      clearTimeout(p.timer);
      if (t === "r") p.resolve(message.r);
      else p.reject(P2PError.fromWire(message.e));
      if (this.draining && this.pending.size === 0) this.close("drained");
    } else if (t === "ping") {
      this.channel.send('{"t":"pong"}');
    } else if (t === "goaway") {
      this.draining = true;
      this.notifyUnusable();
      if (this.pending.size === 0) this.close("drained");
    }
  }

  private onClose(): void {
    clearInterval(this.liveness);
    const reason = this.channel.reason ?? "connection closed by peer";
    const flushed = this.channel.flushed;
    const failed = [...this.pending.values()];
    this.pending.clear();
    for (const p of failed) {
      clearTimeout(p.timer);
      const sent = p.seq <= flushed;
      p.reject(
        new P2PError("UNAVAILABLE", `peer link to ${this.target.nodeId} lost: ${reason}`, {
          reason: sent ? "connection_lost" : "not_sent",
        }),
      );
    }
    this.notifyUnusable();
    for (const handler of this.closedHandlers) handler();
    this.closedHandlers = [];
  }

  private notifyUnusable(): void {
    const handlers = this.unusableHandlers;
    this.unusableHandlers = [];
    for (const handler of handlers) handler();
  }
}
