import type { Socket } from "node:net";
import { P2PError, toP2PError } from "../../errors.js";
import type { Keyring } from "../../security/keyring.js";
import { DEFAULT_MAX_FRAME } from "../../transport/framing.js";
import type { UpgradeRouter } from "../../transport/upgrade.js";
import { Channel } from "./channel.js";
import { FrameReader } from "./frame-reader.js";
import { HandshakeError, serverHandshake } from "./handshake.js";
import { parseRequest } from "./messages.js";
import { LINK_PROTOCOL, silentLogger, type LinkHandler, type LinkLogger } from "./types.js";

/**
 * Server side of the peer link: accepts "p2p-link" upgrades, authenticates them, then
 * runs every incoming call concurrently and answers each as soon as it settles (any order).
 * A connection that misbehaves (bad record, malformed frame, oversize) is closed alone.
 */
export interface PeerLinkServerOptions {
  nodeId: string;
  keyring: Keyring;
  handler: LinkHandler;
  logger?: LinkLogger;
  handshakeTimeoutMs?: number;
  /** A connection silent this long is closed (clients ping every 5 s when idle). Default 60 s. */
  idleTimeoutMs?: number;
  maxFrameBytes?: number;
}

export interface PeerLinkServerStats {
  connections: number;
  /** Calls running in handlers right now. */
  inFlight: number;
  accepted: number;
  handshakeFailures: number;
  callsServed: number;
  malformed: number;
}

export class PeerLinkServer {
  private readonly sockets = new Set<Socket>();
  private readonly channels = new Set<Channel>();
  private inFlight = 0;
  private idleWaiters: Array<() => void> = [];
  private readonly logger: LinkLogger;
  private readonly maxFrameBytes: number;
  private closed = false;
  private readonly counters = { accepted: 0, handshakeFailures: 0, callsServed: 0, malformed: 0 };

  constructor(private readonly opts: PeerLinkServerOptions) {
    this.logger = opts.logger ?? silentLogger;
    this.maxFrameBytes = opts.maxFrameBytes ?? DEFAULT_MAX_FRAME;
  }

  attach(router: UpgradeRouter): void {
    router.register(LINK_PROTOCOL, (socket, head) => this.accept(socket, head));
  }

  /**
   * Stops accepting links and closes the open ones. With `graceMs` > 0 it drains first:
   * peers are told to send new calls elsewhere ("goaway"), calls already running get up
   * to `graceMs` to answer. Calls still running after that fail on the calling side at once.
   */
  async close(graceMs = 0): Promise<void> {
    this.closed = true;
    if (graceMs > 0 && this.channels.size > 0) {
      for (const channel of this.channels) channel.send('{"t":"goaway"}');
      await this.idle(graceMs);
      await new Promise((resolve) => setImmediate(resolve)); // after the last answers' flush
      for (const socket of this.sockets) {
        socket.end();
        setTimeout(() => socket.destroy(), 1000).unref();
      }
    } else {
      for (const socket of this.sockets) socket.destroy();
    }
    this.sockets.clear();
    this.channels.clear();
  }

  private idle(timeoutMs: number): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.idleWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private callDone(): void {
    this.counters.callsServed++;
    if (--this.inFlight === 0 && this.idleWaiters.length > 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const wake of waiters) wake();
    }
  }

  stats(): PeerLinkServerStats {
    return { connections: this.sockets.size, inFlight: this.inFlight, ...this.counters };
  }

  private accept(socket: Socket, head: Buffer): void {
    if (this.closed) {
      socket.destroy();
      return;
    }
    this.sockets.add(socket);
    socket.on("close", () => this.sockets.delete(socket));
    socket.setTimeout(this.opts.idleTimeoutMs ?? 60_000, () => socket.destroy());
    const reader = new FrameReader(socket, head, this.maxFrameBytes);
    const remote = `${socket.remoteAddress}:${socket.remotePort}`;
    const timeout = this.opts.handshakeTimeoutMs ?? 5000;
    serverHandshake(socket, reader, this.opts.keyring, this.opts.nodeId, timeout, this.maxFrameBytes).then(
      ({ remoteNodeId, keys, sendLimit }) => {
        if (socket.destroyed) return;
        this.counters.accepted++;
        this.logger.debug({ peer: remoteNodeId, remote }, "peer link accepted");
        const channel: Channel = new Channel(socket, keys, (m) => this.onMessage(channel, m, remoteNodeId), sendLimit, reader);
        this.channels.add(channel);
        socket.on("close", () => this.channels.delete(channel));
        channel.start(); // delivers frames the client pipelined behind its proof
      },
      (err: unknown) => {
        this.counters.handshakeFailures++;
        const kind = err instanceof HandshakeError ? err.kind : "io";
        this.logger.warn({ remote, kind }, `peer link handshake failed: ${err instanceof Error ? err.message : String(err)}`);
        // end() lets a reject frame reach the client; destroy() if it never drains.
        socket.end();
        setTimeout(() => socket.destroy(), 1000).unref();
      },
    );
  }

  private onMessage(channel: Channel, message: Record<string, unknown>, from: string): void {
    if (message.t === "ping") {
      channel.send('{"t":"pong"}');
      return;
    }
    if (message.t !== "q") return; // pong, or a kind this version does not know
    const request = parseRequest(message);
    if (typeof request === "string") {
      this.counters.malformed++;
      if (typeof message.id === "number") this.answerError(channel, message.id, new P2PError("BAD_REQUEST", request));
      else channel.close(`malformed request: ${request}`);
      return;
    }
    const { id, call } = request;
    let settled: Promise<unknown>;
    this.inFlight++;
    try {
      settled = this.opts.handler(call, from);
      if (typeof (settled as Partial<Promise<unknown>> | undefined)?.then !== "function") settled = Promise.resolve(settled);
    } catch (err) {
      settled = Promise.reject(err);
    }
    settled.then(
      (result) => {
        this.callDone();
        this.answer(channel, id, result);
      },
      (err: unknown) => {
        this.callDone();
        if (!(err instanceof P2PError)) {
          // Unexpected: answered as INTERNAL without the stack, which is logged here instead.
          const stack = err instanceof Error ? err.stack : String(err);
          this.logger.warn({ peer: from, service: call.service, method: call.method, stack }, "link handler failed");
        }
        this.answerError(channel, id, err);
      },
    );
  }

  private answer(channel: Channel, id: number, result: unknown): void {
    if (!channel.open) return;
    let json: string;
    try {
      json = JSON.stringify({ t: "r", id, r: result });
    } catch (err) {
      return this.answerError(channel, id, new P2PError("INTERNAL", `result is not serialisable: ${(err as Error).message}`));
    }
    if (json.length * 3 > channel.maxMessageBytes && Buffer.byteLength(json) > channel.maxMessageBytes) {
      return this.answerError(channel, id, new P2PError("PAYLOAD_TOO_LARGE", "result exceeds the link frame limit"));
    }
    channel.send(json);
  }

  private answerError(channel: Channel, id: number, err: unknown): void {
    if (!channel.open) return;
    const wire = toP2PError(err).toJSON();
    let json: string;
    try {
      json = JSON.stringify({ t: "e", id, e: wire });
    } catch {
      json = JSON.stringify({ t: "e", id, e: { code: wire.code, message: wire.message } });
    }
    channel.send(json);
  }
}
