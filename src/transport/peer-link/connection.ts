import type { Socket } from "node:net";
import { P2PError } from "../../errors.js";
import { callerGone } from "../../rpc/call-scope.js";
import type { Keyring } from "../../security/keyring.js";
import { systemClock, type Clock, type Timer } from "../../util/clock.js";
import { connectUpgrade, sourceOf, type StreamSecurity } from "../upgrade.js";
import { Channel } from "./channel.js";
import { FrameReader } from "./frame-reader.js";
import { clientHandshake, type SessionKeys } from "./handshake.js";
import { CANCEL_BYTES, FRAME, FRAME_HEAD, answerText, frameId, requestBound, writeCancel, writeControl, writeRequest } from "./messages.js";
import { answerError, type Responder } from "./responder.js";
import { LINK_PROTOCOL, type LinkCall, type LinkTarget } from "./types.js";

/**
 * One authenticated link to a peer, usable in both directions whichever side opened it:
 * this side's calls wait in `pending` (matched by id), the peer's calls go to the responder.
 * Request ids never collide: a request always carries the sender's own id, an answer (result
 * or error) always the receiver's, so each direction has its own id space.
 * When the socket breaks, every call fails at once: `not_sent` if its request was still
 * in the write queue, `connection_lost` if it may have reached the peer.
 */
const CONGESTED_BYTES = 32 * 1024 * 1024;
/**
 * The link's own timer per call is only a backstop that frees the pending entry: the caller's
 * pipeline times the call out on the same clock first, so this one fires this much later.
 */
export const LINK_TIMEOUT_SLACK_MS = 25;

interface Pending {
  resolve: (value: unknown) => void;
  reject: (err: P2PError) => void;
  timer: Timer;
  seq: number;
  /** Stops listening to the caller's cancellation (none: the call has no cancellation). */
  unsubscribe: (() => void) | undefined;
}

/** The call is settled: its timers and listeners go. */
function release(p: Pending): void {
  p.timer.cancel();
  p.unsubscribe?.();
}

export interface ConnectionOptions {
  localNodeId: string;
  keyring: Keyring;
  connectTimeoutMs: number;
  maxFrameBytes: number;
  pingIntervalMs: number;
  /** Every timer and time reading of the link. */
  clock: Clock;
  /** Serves the peer's calls on this link; null: this side only calls (told to the peer). */
  responder: Responder | null;
  /** Mutual TLS: the peer must prove the target's node id with its certificate. */
  security?: StreamSecurity;
}

/** What an accepted (server-side) link is built from. */
export interface AcceptedLink {
  socket: Socket;
  reader: FrameReader;
  keys: SessionKeys;
  sendLimit: number;
  remoteNodeId: string;
}

export class LinkConnection {
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  /** The peer's calls running on this link (they hold a drained link open). */
  private serving = 0;
  private readonly channel: Channel;
  private readonly liveness: Timer;
  /** Clock time of the last message from the peer (pongs included). */
  private lastHeardAt: number;
  /** Records received when `lastHeardAt` was last set. */
  private heardRecords = 0;
  private unusableHandlers: Array<() => void> = [];
  /** alive() checks waiting for the next message from the peer. */
  private heardWaiters: Array<() => void> = [];
  private closedHandlers: Array<() => void> = [];
  /** Either side said goaway: answers still flow both ways, new calls go to another connection. */
  private draining = false;
  /** The peer said goaway: it starts no new calls here, so the link may close once idle. */
  private peerLeaving = false;

  private constructor(
    /** The peer's node id, proven by the handshake. */
    readonly peerId: string,
    /** true when this side opened the link. */
    readonly outbound: boolean,
    private readonly socket: Socket,
    reader: FrameReader,
    keys: SessionKeys,
    sendLimit: number,
    pingIntervalMs: number,
    private readonly responder: Responder | null,
    private readonly clock: Clock,
    /** Where the link goes: the address this side dialled, or the IP address an accepted link came from (port null). */
    readonly remote: { host: string; port: number | null },
  ) {
    this.lastHeardAt = clock.now();
    this.channel = new Channel(socket, keys, (kind, buf, start, end) => this.onFrame(kind, buf, start, end), sendLimit, reader, clock);
    socket.on("close", () => this.onClose());
    // Pings keep NAT/conntrack state warm and find a silently dead peer.
    this.liveness = clock.setInterval(() => {
      const silentFor = clock.now() - this.lastHeardAt;
      if (silentFor > pingIntervalMs * 3) this.close("peer unresponsive");
      else if (silentFor > pingIntervalMs) this.sendControl(FRAME.ping);
    }, pingIntervalMs);
    this.channel.start();
  }

  /** Connects, upgrades to p2p-link and runs the handshake. Rejects with HandshakeError or a socket error. */
  static async open(target: LinkTarget, opts: ConnectionOptions): Promise<LinkConnection> {
    const started = opts.clock.now();
    const socket = await connectUpgrade(target.host, target.port, LINK_PROTOCOL, opts.connectTimeoutMs, opts.security?.clientOptions(target.nodeId), opts.clock);
    try {
      const reader = new FrameReader(socket, Buffer.alloc(0), opts.maxFrameBytes);
      const left = Math.max(1, opts.connectTimeoutMs - (opts.clock.now() - started));
      const { keys, sendLimit } = await clientHandshake(
        socket,
        reader,
        opts.keyring,
        opts.localNodeId,
        target.nodeId,
        left,
        opts.maxFrameBytes,
        opts.responder !== null,
      );
      if (socket.destroyed) throw new Error("connection closed during handshake");
      return new LinkConnection(target.nodeId, true, socket, reader, keys, sendLimit, opts.pingIntervalMs, opts.responder, opts.clock, { host: target.host, port: target.port });
    } catch (err) {
      socket.destroy();
      throw err;
    }
  }

  /** Wraps a link the server accepted and authenticated; starts delivering pipelined frames. */
  static accepted(link: AcceptedLink, responder: Responder, pingIntervalMs: number, clock: Clock = systemClock): LinkConnection {
    return new LinkConnection(link.remoteNodeId, false, link.socket, link.reader, link.keys, link.sendLimit, pingIntervalMs, responder, clock, { host: sourceOf(link.socket), port: null });
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

  /**
   * Whether the peer still answers: true as soon as anything arrives after a ping sent now,
   * false if nothing does within `timeoutMs` or the link closes (a half-open link left by a
   * crashed or restarted peer looks open until it is tried).
   */
  alive(timeoutMs: number): Promise<boolean> {
    if (!this.channel.open) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      let done = false;
      const settle = (value: boolean): void => {
        if (done) return;
        done = true;
        timer.cancel();
        this.heardWaiters = this.heardWaiters.filter((w) => w !== heard);
        resolve(value);
      };
      const heard = (): void => settle(this.channel.open);
      const timer = this.clock.setTimeout(() => settle(false), timeoutMs);
      // Checks running at once share one ping.
      if (this.heardWaiters.length === 0) this.sendControl(FRAME.ping);
      this.heardWaiters.push(heard);
    });
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
      return Promise.reject(new P2PError("UNAVAILABLE", `peer link to ${this.peerId} is closed`, { reason: "not_sent" }));
    }
    if (this.socket.writableLength > CONGESTED_BYTES) {
      // The peer or the network is not keeping up: fail fast rather than queue without bound.
      return Promise.reject(new P2PError("UNAVAILABLE", `peer link to ${this.peerId} is congested`, { reason: "not_sent" }));
    }
    const paramsJson = JSON.stringify(call.params);
    const cancel = call.cancel;
    if (cancel?.cancelled) return Promise.reject(callerGone(cancel.reason));
    const id = ++this.nextId;
    const channel = this.channel;
    const at = channel.writeAt;
    const end = writeRequest(channel.reserve(requestBound(call, paramsJson)), at, id, call, Math.max(1, Math.floor(timeoutMs)), paramsJson);
    const seq = end < 0 ? -1 : channel.commit(end);
    if (seq < 0) return Promise.reject(new P2PError("PAYLOAD_TOO_LARGE", `call of ${paramsJson.length} characters exceeds the link frame limit`));
    return new Promise<unknown>((resolve, reject) => {
      const timer = this.clock.setTimeout(() => this.expire(id), timeoutMs + LINK_TIMEOUT_SLACK_MS);
      const unsubscribe = cancel ? cancel.onCancel((reason) => this.abandon(id, reason)) : undefined;
      this.pending.set(id, { resolve, reject, timer, seq, unsubscribe });
    });
  }

  /** The caller no longer waits: fail the call here and tell the peer to stop running it. */
  private abandon(id: number, reason: unknown): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    release(p);
    if (this.channel.open) {
      const at = this.channel.writeAt;
      this.channel.commit(writeCancel(this.channel.reserve(CANCEL_BYTES), at, id));
    }
    p.reject(callerGone(reason));
    this.closeIfDrained();
  }

  close(reason: string): void {
    this.channel.close(reason);
  }

  private expire(id: number): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    release(p);
    p.reject(new P2PError("TIMEOUT", `no answer from ${this.peerId} within the deadline`, { reason: "deadline_exceeded" }));
    this.closeIfDrained();
  }

  private onFrame(kind: number, buf: Buffer, start: number, end: number): void {
    // The frames of one record arrive together: one clock read per record.
    if (this.heardRecords !== this.channel.recordsReceived) {
      this.heardRecords = this.channel.recordsReceived;
      this.lastHeardAt = this.clock.now();
    }
    if (this.heardWaiters.length > 0) for (const heard of this.heardWaiters.splice(0)) heard();
    if (kind === FRAME.result || kind === FRAME.error) {
      const id = frameId(buf, start, end);
      if (id === null) return this.channel.close("malformed answer");
      const p = this.pending.get(id);
      if (!p) return; // answered after its deadline
      const text = answerText(buf, start, end);
      let value: unknown;
      try {
        value = text === undefined ? undefined : JSON.parse(text);
      } catch {
        return this.channel.close("malformed answer");
      }
      this.pending.delete(id);
      release(p);
      if (kind === FRAME.result) p.resolve(value);
      else p.reject(P2PError.fromWire(value));
      this.closeIfDrained();
    } else if (kind === FRAME.request) {
      this.serve(buf, start, end);
    } else if (kind === FRAME.cancel) {
      const id = frameId(buf, start, end);
      if (id !== null) this.responder?.cancel(this.channel, id);
    } else if (kind === FRAME.ping) {
      this.sendControl(FRAME.pong);
    } else if (kind === FRAME.goaway) {
      this.draining = true;
      this.peerLeaving = true;
      this.notifyUnusable();
      this.closeIfDrained();
    }
  }

  private sendControl(kind: typeof FRAME.ping | typeof FRAME.pong | typeof FRAME.goaway): void {
    const at = this.channel.writeAt;
    this.channel.commit(writeControl(this.channel.reserve(FRAME_HEAD), at, kind));
  }

  /**
   * Stops new calls this way and asks the peer to do the same; the link closes once
   * neither side has a call left on it. Calls already sent on it are not broken.
   */
  goaway(): void {
    if (!this.channel.open) return;
    this.sendControl(FRAME.goaway);
    if (this.draining) return;
    this.draining = true;
    this.notifyUnusable();
  }

  private serve(buf: Buffer, start: number, end: number): void {
    if (!this.responder) {
      // The peer should not send calls to a side that said it only calls: never run.
      const id = frameId(buf, start, end);
      if (id !== null) answerError(this.channel, id, new P2PError("UNAVAILABLE", "this side of the link serves no calls", { reason: "not_sent" }));
      return;
    }
    this.serving++;
    this.responder.serve(this.channel, buf, start, end, this.peerId, () => {
      this.serving--;
      this.closeIfDrained();
    });
  }

  private closeIfDrained(): void {
    // After the peer's goaway no new call can start once both counts are 0. The side that
    // said goaway waits for the peer to close instead: the peer's calls may still be on the way.
    if (this.peerLeaving && this.pending.size === 0 && this.serving === 0) this.channel.end("drained");
  }

  private onClose(): void {
    this.liveness.cancel();
    const reason = this.channel.reason ?? "connection closed by peer";
    const flushed = this.channel.flushed;
    const failed = [...this.pending.values()];
    this.pending.clear();
    for (const p of failed) {
      release(p);
      const sent = p.seq <= flushed;
      p.reject(
        new P2PError("UNAVAILABLE", `peer link to ${this.peerId} lost: ${reason}`, {
          reason: sent ? "connection_lost" : "not_sent",
        }),
      );
    }
    for (const heard of this.heardWaiters.splice(0)) heard();
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
