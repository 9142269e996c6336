import type { Socket } from "node:net";
import type { Keyring } from "../../security/keyring.js";
import { DEFAULT_MAX_FRAME } from "../framing.js";
import { BadInputLog } from "../../api/bad-input-log.js";
import { HostAddresses } from "../host-addresses.js";
import { sourceOf, type Admission, type UpgradeRouter } from "../upgrade.js";
import { splitHostPort } from "../transport.js";
import { systemClock, type Clock } from "../../util/clock.js";
import { LinkConnection } from "./connection.js";
import { FrameReader } from "./frame-reader.js";
import { HandshakeError, serverHandshake, type Refusal } from "./handshake.js";
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
   * that proves the key but claims to be a member from another IP address (a host name is
   * resolved) is refused before it is ready; one from a node not known yet serves its calls
   * but never carries this node's calls to it.
   */
  knownAddress?: (nodeId: string) => string | undefined;
  /** Resolves host names of known addresses (default: dns.lookup, cached a minute). */
  hostAddresses?: HostAddresses;
  /** How long a live link to the claimed node has to answer before a new claim replaces it (default 1 s). */
  livenessCheckMs?: number;
  /** Drives the links' pings, the responder's idle wait and the handshake log (default: the system clock). */
  clock?: Clock;
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
  /**
   * Accepted links from nodes membership did not vouch for then (e.g. a node restarted while
   * we still held it dead): adopted by the pool once it does (adoptVouched). Without this the
   * node's link, kept by its side, made it refuse ours as a duplicate, and no call reached it.
   */
  private readonly unvouched = new Set<LinkConnection>();
  private readonly responder: Responder;
  private readonly logger: LinkLogger;
  private readonly maxFrameBytes: number;
  private closed = false;
  private readonly counters = { accepted: 0, handshakeFailures: 0 };
  private readonly badHandshakes: BadInputLog;
  private readonly hostAddresses: HostAddresses;

  constructor(private readonly opts: PeerLinkServerOptions) {
    this.logger = opts.logger ?? silentLogger;
    this.maxFrameBytes = opts.maxFrameBytes ?? DEFAULT_MAX_FRAME;
    this.responder = new Responder(opts.handler, this.logger, opts.clock ?? systemClock);
    this.hostAddresses = opts.hostAddresses ?? new HostAddresses({ clock: opts.clock ?? systemClock });
    this.badHandshakes = new BadInputLog({ logger: { warn: (obj, msg) => this.logger.warn(obj, msg) }, clock: opts.clock ?? systemClock, message: "peer link handshake failed" });
    this.badHandshakes.start(); // a flood that stops is still summed up

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
    let known: string | undefined;
    const admit = async (claimed: string): Promise<Refusal | null> => {
      // Mutual TLS: the certificate names the node; claiming another id is refused.
      if (admission.peerNodeId !== undefined && admission.peerNodeId !== claimed) {
        // Only a holder of a valid cluster certificate gets here: an insider posing as another
        // node. Always logged, naming both ids (the handshake summary below is rate-limited).
        const reason = `claims to be ${claimed} with a certificate for ${admission.peerNodeId}`;
        this.logger.warn({ claimed, certificate: admission.peerNodeId, source: sourceOf(socket) }, `peer link refused: ${reason}`);
        return { kind: "identity", reason };
      }
      known = this.opts.knownAddress?.(claimed);
      const where = known === undefined ? undefined : await this.whereIs(known);
      return this.fromElsewhere(socket, claimed, known, where) ?? (await this.alreadyLinked(claimed, where));
    };
    serverHandshake(socket, reader, this.opts.keyring, this.opts.nodeId, timeout, this.maxFrameBytes, admit).then(
      ({ remoteNodeId, keys, sendLimit, peerServes }) => {
        if (socket.destroyed) return;
        admission.trusted();
        this.counters.accepted++;
        this.logger.debug({ peer: remoteNodeId, remote }, "peer link accepted");
        const link = LinkConnection.accepted({ socket, reader, keys, sendLimit, remoteNodeId }, this.responder, this.opts.pingIntervalMs ?? 5000, this.opts.clock ?? systemClock);
        this.links.add(link);
        link.onClosed(() => this.links.delete(link));
        // Carry our calls to it only once membership vouches for where that node is.
        if (peerServes && (known !== undefined || !this.opts.knownAddress)) this.opts.pool?.adopt(link);
        else if (peerServes && this.opts.pool) {
          this.unvouched.add(link);
          link.onClosed(() => this.unvouched.delete(link));
        }
      },
      (err: unknown) => {
        this.counters.handshakeFailures++;
        const kind = err instanceof HandshakeError ? err.kind : "io";
        this.badHandshakes.note(sourceOf(socket), kind, { remote, ...(known ? { known } : {}), reason: err instanceof Error ? err.message : String(err) });
        // end() lets a reject frame reach the client; destroy() if it never drains.
        socket.end();
        setTimeout(() => socket.destroy(), 1000).unref();
      },
    );
  }

  /**
   * Membership changed: hands the pool the accepted links whose node it now knows, at the
   * address the link came from. Call after every membership change (cheap when none wait).
   */
  async adoptVouched(): Promise<void> {
    if (this.unvouched.size === 0) return;
    for (const link of [...this.unvouched]) {
      const known = this.opts.knownAddress?.(link.peerId);
      if (known === undefined) continue;
      const where = await this.whereIs(known);
      if (!this.unvouched.delete(link) || !link.open) continue;
      if (isAt(link, where)) this.opts.pool?.adopt(link);
      else link.close("its node is known elsewhere");
    }
  }

  /** The known "host:port" with the IP addresses its host stands for. */
  private async whereIs(known: string): Promise<KnownPlace> {
    try {
      const { host, port } = splitHostPort(known);
      return { host, port, ips: await this.hostAddresses.of(host) };
    } catch {
      return { host: "", port: 0, ips: [] };
    }
  }

  /** Refused when membership knows `claimed` at another IP address than the link comes from. */
  private fromElsewhere(socket: Socket, claimed: string, known: string | undefined, where: KnownPlace | undefined): Refusal | null {
    if (known === undefined || where === undefined || where.ips.includes(sourceOf(socket))) return null;
    return { kind: "identity", reason: `node "${claimed}" does not link from this address (membership knows it at ${known})` };
  }

  /**
   * Refused while another link to `claimed` still answers: one link per node id, so a second
   * claimant (even from the same address) never takes over a live node's calls. Links left
   * to where the node was before it moved (another place than membership knows now), and
   * links silent for the liveness check (the node restarted), are closed instead. A draining
   * link (goaway: it takes no new calls) neither blocks a new one nor is cut: its calls finish.
   */
  private async alreadyLinked(claimed: string, where: KnownPlace | undefined): Promise<Refusal | null> {
    const links = new Set([...(this.opts.pool?.linksTo(claimed) ?? []), ...[...this.links].filter((l) => l.peerId === claimed && l.open)]);
    const moved = [...links].filter((link) => where !== undefined && !isAt(link, where));
    const current = [...links].filter((link) => link.usable && !moved.includes(link));
    const checks = await Promise.all(current.map((link) => link.alive(this.opts.livenessCheckMs ?? 1000)));
    if (checks.some(Boolean)) return { kind: "duplicate", reason: `node "${claimed}" already has a live link to this node` };
    for (const link of [...moved, ...current]) link.close("replaced by a new link from its node");
    return null;
  }
}

interface KnownPlace {
  host: string;
  port: number;
  ips: string[];
}

/** The link goes to the place membership knows: dialled to that host and port, or accepted from one of its IPs. */
function isAt(link: LinkConnection, where: KnownPlace): boolean {
  if (link.remote.port === null) return where.ips.includes(link.remote.host);
  return link.remote.port === where.port && (link.remote.host === where.host || where.ips.includes(link.remote.host));
}
