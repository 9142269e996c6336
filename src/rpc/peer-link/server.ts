import type { Socket } from "node:net";
import type { Keyring } from "../../security/keyring.js";
import { DEFAULT_MAX_FRAME } from "../../transport/framing.js";
import { isIP } from "node:net";
import { BadInputLog } from "../../api/bad-input-log.js";
import { sourceOf, type Admission, type UpgradeRouter } from "../../transport/upgrade.js";
import { splitHostPort } from "../../transport/transport.js";
import { systemClock } from "../../util/clock.js";
import { LinkConnection } from "./connection.js";
import { FrameReader } from "./frame-reader.js";
import { HandshakeError, serverHandshake } from "./handshake.js";
import type { PeerLinkPool } from "./pool.js";
import { Responder } from "./responder.js";
import { LINK_PROTOCOL, silentLogger, type LinkHandler, type LinkLogger } from "./types.js";

/**
 * Server side of the peer link: accepts "p2p-link" upgrades, authenticates them, then
 * runs every incoming call concurrently and answers each as soon as it settles (any order).
 * With a `pool`, links are shared both ways: the pool's own links serve calls from their
 * peers, and an accepted link carries this node's calls back to the node that opened it,
 * so a pair of nodes needs one connection. A misbehaving connection is closed alone.
 */
export interface PeerLinkServerOptions {
  nodeId: string;
  keyring: Keyring;
  handler: LinkHandler;
  /** This node's pool: links become two-way (see above). */
  pool?: PeerLinkPool;
  logger?: LinkLogger;
  handshakeTimeoutMs?: number;
  /** A connection silent this long is closed (both sides ping every 5 s when idle). Default 60 s. */
  idleTimeoutMs?: number;
  /** Idle ping period on accepted links; a peer silent for 3 periods is dropped (default 5 s). */
  pingIntervalMs?: number;
  maxFrameBytes?: number;
  /**
   * The "host:port" membership knows for a node id (undefined: not a member yet). A link
   * that proves the key but claims to be a member from another IP address is refused; one
   * from a node not known yet serves its calls but never carries this node's calls to it.
   */
  knownAddress?: (nodeId: string) => string | undefined;
}

export interface PeerLinkServerStats {
  connections: number;
  /** Calls running in handlers right now (on any link, accepted or opened by the pool). */
  inFlight: number;
  accepted: number;
  handshakeFailures: number;
  callsServed: number;
  malformed: number;
}

export class PeerLinkServer {
  private readonly sockets = new Set<Socket>();
  private readonly links = new Set<LinkConnection>();
  private readonly responder: Responder;
  private readonly logger: LinkLogger;
  private readonly maxFrameBytes: number;
  private closed = false;
  private readonly counters = { accepted: 0, handshakeFailures: 0 };
  private readonly badHandshakes: BadInputLog;

  constructor(private readonly opts: PeerLinkServerOptions) {
    this.logger = opts.logger ?? silentLogger;
    this.maxFrameBytes = opts.maxFrameBytes ?? DEFAULT_MAX_FRAME;
    this.responder = new Responder(opts.handler, this.logger);
    this.badHandshakes = new BadInputLog({ logger: { warn: (obj, msg) => this.logger.warn(obj, msg) }, clock: systemClock, message: "peer link handshake failed" });
    opts.pool?.serveIncoming(this.responder);
  }

  attach(router: UpgradeRouter): void {
    router.register(LINK_PROTOCOL, (socket, head, _req, admission) => this.accept(socket, head, admission));
  }

  /**
   * Stops accepting links and closes the open ones. With `graceMs` > 0 it drains first:
   * peers are told to send new calls elsewhere ("goaway"), calls already running get up
   * to `graceMs` to answer. Calls still running after that fail on the calling side at once.
   */
  async close(graceMs = 0): Promise<void> {
    this.closed = true;
    this.badHandshakes.stop();
    if (graceMs > 0 && this.links.size > 0) {
      for (const link of this.links) link.goaway();
      await this.responder.idle(graceMs);
      await new Promise((resolve) => setImmediate(resolve)); // after the last answers' flush
      for (const socket of this.sockets) {
        socket.end();
        setTimeout(() => socket.destroy(), 1000).unref();
      }
    } else {
      for (const socket of this.sockets) socket.destroy();
    }
    this.sockets.clear();
    this.links.clear();
  }

  stats(): PeerLinkServerStats {
    return { connections: this.sockets.size, ...this.responder.stats(), ...this.counters };
  }

  private accept(socket: Socket, head: Buffer, admission: Admission = { trusted() {} }): void {
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
      ({ remoteNodeId, keys, sendLimit, peerServes }) => {
        if (socket.destroyed) return;
        const known = this.opts.knownAddress?.(remoteNodeId);
        if (known !== undefined && !fromAddress(socket, known)) {
          this.counters.handshakeFailures++;
          this.badHandshakes.note(sourceOf(socket), "address", { claimed: remoteNodeId, known, reason: `claims to be ${remoteNodeId}, which membership knows at ${known}` });
          socket.destroy();
          return;
        }
        admission.trusted();
        this.counters.accepted++;
        this.logger.debug({ peer: remoteNodeId, remote }, "peer link accepted");
        const link = LinkConnection.accepted({ socket, reader, keys, sendLimit, remoteNodeId }, this.responder, this.opts.pingIntervalMs ?? 5000);
        this.links.add(link);
        link.onClosed(() => this.links.delete(link));
        // Carry our calls to it only once membership vouches for where that node is.
        if (peerServes && (known !== undefined || !this.opts.knownAddress)) this.opts.pool?.adopt(link);
      },
      (err: unknown) => {
        this.counters.handshakeFailures++;
        const kind = err instanceof HandshakeError ? err.kind : "io";
        this.badHandshakes.note(sourceOf(socket), kind, { remote, reason: err instanceof Error ? err.message : String(err) });
        // end() lets a reject frame reach the client; destroy() if it never drains.
        socket.end();
        setTimeout(() => socket.destroy(), 1000).unref();
      },
    );
  }
}

/** The link comes from the IP address membership knows for its node (hostnames are not resolved: accepted). */
function fromAddress(socket: Socket, known: string): boolean {
  let host: string;
  try {
    host = splitHostPort(known).host;
  } catch {
    return false;
  }
  if (isIP(host) === 0) return true;
  return sourceOf(socket) === host;
}
