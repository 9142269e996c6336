import { P2PError } from "../../errors.js";
import type { Keyring } from "../../security/keyring.js";
import { systemClock, type Clock } from "../../util/clock.js";
import { withTimeout } from "../../util/with-timeout.js";
import { DEFAULT_MAX_FRAME } from "../framing.js";
import type { StreamSecurity } from "../upgrade.js";
import { LinkConnection } from "./connection.js";
import { HandshakeError } from "./handshake.js";
import type { Responder } from "./responder.js";
import { silentLogger, type LinkCall, type LinkLogger, type LinkTarget } from "./types.js";

/**
 * Client side of the peer link: one connection per remote node, opened on first use and
 * reopened by the next call after it breaks. Concurrent callers share one connect attempt.
 * A link the node's server accepted from that node (see PeerLinkServer `pool`) counts as
 * a connection to it too. The first usable link found for a node is kept for new calls;
 * if both nodes connected at once, the other link stays open for the peer's calls.
 */
export interface PeerLinkPoolOptions {
  nodeId: string;
  keyring: Keyring;
  /** Limit for TCP connect + upgrade + handshake (default 5 s). */
  connectTimeoutMs?: number;
  /** Idle ping period; a peer silent for 3 periods is dropped (default 5 s). */
  pingIntervalMs?: number;
  maxFrameBytes?: number;
  logger?: LinkLogger;
  /** Every timer and time reading of the pool's links (default: the system clock). */
  clock?: Clock;
  /** Mutual TLS: links are TLS and the peer must prove the node id it is dialled as. */
  security?: StreamSecurity;
}

export interface PeerLinkPoolStats {
  connections: number;
  connecting: number;
  inFlight: number;
  connectsOpened: number;
  connectFailures: number;
  handshakeFailures: number;
  callsStarted: number;
  /** Links accepted by this node's server and used for calls to the node that opened them. */
  adopted: number;
  /** Over open connections: messages written and the records (socket writes) that carried them. */
  messagesWritten: number;
  recordsWritten: number;
}

interface Entry {
  /** null: an adopted link, whose peer's address is learnt from the first call to it. */
  host: string | null;
  port: number | null;
  conn: LinkConnection | null;
  connecting: Promise<LinkConnection> | null;
}

export class PeerLinkPool {
  private readonly entries = new Map<string, Entry>();
  private readonly connectTimeoutMs: number;
  private readonly pingIntervalMs: number;
  private readonly maxFrameBytes: number;
  private readonly logger: LinkLogger;
  private readonly clock: Clock;
  private closed = false;
  /** Every open connection (opened or adopted), including draining ones no longer in `entries`. */
  private readonly live = new Set<LinkConnection>();
  /** Serves the peers' calls on this pool's links (set by the node's PeerLinkServer). */
  private responder: Responder | null = null;
  private readonly counters = { connectsOpened: 0, connectFailures: 0, handshakeFailures: 0, callsStarted: 0, adopted: 0 };

  constructor(private readonly opts: PeerLinkPoolOptions) {
    this.connectTimeoutMs = opts.connectTimeoutMs ?? 5000;
    this.pingIntervalMs = opts.pingIntervalMs ?? 5000;
    this.maxFrameBytes = opts.maxFrameBytes ?? DEFAULT_MAX_FRAME;
    this.logger = opts.logger ?? silentLogger;
    this.clock = opts.clock ?? systemClock;
  }

  /** Sends one call; resolves with its result or rejects with a P2PError (reasons: see index.ts). */
  call(target: LinkTarget, call: LinkCall): Promise<unknown> {
    this.counters.callsStarted++;
    if (this.closed) return Promise.reject(notSent(`peer link pool of ${this.opts.nodeId} is closed`));
    const entry = this.entries.get(target.nodeId);
    const conn = entry?.conn;
    // Fast path: an open connection to the same address.
    if (conn && conn.usable && sameAddress(entry, target)) {
      return conn.call(call, call.timeoutMs);
    }
    return this.callAfterConnect(target, call);
  }

  /** Links opened from now on also serve the peer's calls, with `responder`. */
  serveIncoming(responder: Responder): void {
    this.responder = responder;
  }

  /** A link the server accepted and authenticated: calls to its node may use it. */
  adopt(conn: LinkConnection): void {
    if (this.closed) return;
    this.counters.adopted++;
    this.track(conn);
    const entry = this.entries.get(conn.peerId);
    this.logger.debug({ peer: conn.peerId }, "peer link adopted");
    if (!entry) this.entries.set(conn.peerId, { host: null, port: null, conn, connecting: null });
    else if (!entry.conn?.usable) {
      entry.conn = conn;
      // The peer may have restarted elsewhere: its address is learnt again from the next call.
      entry.host = null;
      entry.port = null;
    } else this.settle(entry, conn.peerId);
  }

  /** The open links (opened or adopted) to `nodeId`. */
  linksTo(nodeId: string): LinkConnection[] {
    return [...this.live].filter((conn) => conn.peerId === nodeId && conn.open);
  }

  /** Closes the connections to `nodeId` (their in-flight calls fail at once); the next call reconnects. */
  drop(nodeId: string): void {
    const entry = this.entries.get(nodeId);
    this.entries.delete(nodeId);
    entry?.conn?.close("dropped");
    for (const conn of this.live) if (conn.peerId === nodeId) conn.close("dropped");
  }

  async close(): Promise<void> {
    this.closed = true;
    const pending = [...this.entries.values()].map((e) => e.connecting?.catch(() => undefined));
    for (const nodeId of [...this.entries.keys()]) this.drop(nodeId);
    for (const conn of this.live) conn.close("pool closed");
    await Promise.all(pending);
  }

  stats(): PeerLinkPoolStats {
    let connections = 0;
    let connecting = 0;
    let inFlight = 0;
    let messagesWritten = 0;
    let recordsWritten = 0;
    for (const conn of this.live) {
      connections++;
      inFlight += conn.inFlight;
      messagesWritten += conn.written.messages;
      recordsWritten += conn.written.records;
    }
    for (const e of this.entries.values()) if (e.connecting) connecting++;
    return { connections, connecting, inFlight, messagesWritten, recordsWritten, ...this.counters };
  }

  private async callAfterConnect(target: LinkTarget, call: LinkCall): Promise<unknown> {
    const started = this.clock.now();
    // The shared connect attempt, bounded by this caller's own deadline.
    const late = () => new P2PError("TIMEOUT", `deadline passed while connecting to ${target.nodeId}`, { reason: "deadline_exceeded", not_sent: true });
    const conn = await withTimeout(this.connection(target), call.timeoutMs, this.clock, late);
    const left = call.timeoutMs - (this.clock.now() - started);
    if (left <= 0) throw late();
    return conn.call(call, left);
  }

  private connection(target: LinkTarget): Promise<LinkConnection> {
    let entry = this.entries.get(target.nodeId);
    if (entry && !sameAddress(entry, target)) {
      // The node moved (restart on another address): links dialled to the old one are stale.
      // Links it opened to this node prove its id wherever it is, so they stay usable.
      this.entries.delete(target.nodeId);
      for (const conn of this.live) if (conn.peerId === target.nodeId && conn.outbound) conn.close("peer moved");
      entry = undefined;
    }
    if (!entry) {
      entry = { host: target.host, port: target.port, conn: null, connecting: null };
      this.entries.set(target.nodeId, entry);
    }
    if (!entry.conn?.usable) entry.conn = this.usableLink(target.nodeId);
    if (entry.conn) return Promise.resolve(entry.conn);
    if (entry.connecting) return entry.connecting;
    const attempt = this.openConnection(target, entry);
    entry.connecting = attempt;
    return attempt;
  }

  private track(conn: LinkConnection): void {
    this.live.add(conn);
    conn.onClosed(() => this.live.delete(conn));
    conn.onUnusable(() => {
      const entry = this.entries.get(conn.peerId);
      if (entry?.conn === conn) entry.conn = this.usableLink(conn.peerId);
    });
  }

  /**
   * Two links to one node: both nodes dialled each other at once, or the peer dialled anew
   * (restarted) before its old link was found dead. Both sides agree without talking: the
   * newest link the node with the smaller id opened stays; this node retires the others it
   * opened with a goaway (no new calls either way; each closes once its calls are answered).
   */
  private settle(entry: Entry, nodeId: string): LinkConnection | null {
    const dialler = this.opts.nodeId < nodeId;
    const kept = this.usableLink(nodeId, dialler) ?? this.usableLink(nodeId);
    if (!kept) return entry.conn;
    entry.conn = kept;
    for (const c of this.live) if (c.peerId === nodeId && c !== kept && c.outbound && c.usable) c.goaway();
    return kept;
  }

  /** The newest open link to `nodeId` (opened by this side if `outbound` is given), if any. */
  private usableLink(nodeId: string, outbound?: boolean): LinkConnection | null {
    let found: LinkConnection | null = null;
    for (const conn of this.live) {
      if (conn.peerId === nodeId && conn.usable && (outbound === undefined || conn.outbound === outbound)) found = conn;
    }
    return found;
  }

  private async openConnection(target: LinkTarget, entry: Entry): Promise<LinkConnection> {
    try {
      const conn = await LinkConnection.open(target, {
        localNodeId: this.opts.nodeId,
        keyring: this.opts.keyring,
        connectTimeoutMs: this.connectTimeoutMs,
        maxFrameBytes: this.maxFrameBytes,
        pingIntervalMs: this.pingIntervalMs,
        clock: this.clock,
        responder: this.responder,
        security: this.opts.security,
      });
      entry.connecting = null;
      if (this.closed || this.entries.get(target.nodeId) !== entry) {
        conn.close("pool closed or entry dropped");
        throw notSent(`peer link to ${target.nodeId} was dropped while connecting`);
      }
      this.counters.connectsOpened++;
      this.track(conn);
      this.logger.debug({ peer: target.nodeId }, "peer link open");
      if (!entry.conn?.usable) return (entry.conn = conn);
      // The peer dialled this node meanwhile: two links, one of them goes.
      return this.settle(entry, target.nodeId) ?? conn;
    } catch (err) {
      entry.connecting = null;
      if (err instanceof P2PError) throw err;
      // Both nodes dialled at once and the peer kept the link we accepted from it: use that one.
      const accepted = err instanceof HandshakeError && err.kind === "duplicate" ? this.usableLink(target.nodeId) : null;
      if (accepted && this.entries.get(target.nodeId) === entry) return (entry.conn = accepted);
      if (err instanceof HandshakeError) {
        this.counters.handshakeFailures++;
        this.logger.warn({ peer: target.nodeId, kind: err.kind }, `peer link handshake failed: ${err.message}`);
        throw notSent(`peer link to ${target.nodeId} refused: ${err.message}`);
      }
      this.counters.connectFailures++;
      const message = err instanceof Error ? err.message : String(err);
      throw notSent(`cannot connect to ${target.nodeId} at ${addressOf(target)}: ${message}`);
    }
  }
}

/** Same address, or an adopted link whose address is not known yet (then it learns it). */
function sameAddress(entry: Entry, target: LinkTarget): boolean {
  if (entry.host === null) {
    entry.host = target.host;
    entry.port = target.port;
    return true;
  }
  return entry.host === target.host && entry.port === target.port;
}

function notSent(message: string): P2PError {
  return new P2PError("UNAVAILABLE", message, { reason: "not_sent" });
}

function addressOf(target: LinkTarget): string {
  return `${target.host}:${target.port}`;
}
