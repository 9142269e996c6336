import { connect, type Socket } from "node:net";
import { connect as tlsConnect, type ConnectionOptions } from "node:tls";
import type { IncomingMessage } from "node:http";
import { systemClock, type Clock } from "../util/clock.js";
import { withTimeout } from "../util/with-timeout.js";

/**
 * One TCP port per node: HTTP for clients, and node-to-node streams (gossip sync, the
 * peer link) reached through an HTTP/1.1 `Upgrade: <protocol>` on that same port.
 *
 * Until a stream's peer proves the cluster key it is untrusted, and the router bounds what
 * untrusted streams can hold: at most `perSource` of them from one IP address and `total`
 * in all (more are answered 503 and closed), and each gets `authTimeoutMs` in all to prove
 * itself (it is cut then, however slowly it trickles bytes). The protocol handler calls
 * `admission.trusted()` once the peer is authenticated; a closed stream frees its place.
 */
export interface Admission {
  trusted(): void;
  /** With stream security: the node id the peer's certificate proved (checked before the upgrade). */
  readonly peerNodeId?: string;
}

/**
 * Certificate identity for node-to-node streams (mutual TLS). With it, the router refuses an
 * upgrade whose peer did not present a valid node certificate, before answering 101.
 */
export interface StreamSecurity {
  /** TLS options to dial a node: `expectedNodeId` must be the id its certificate names (null: any node). */
  clientOptions(expectedNodeId: string | null): ConnectionOptions;
  /** The node id an accepted connection's certificate proves; throws an Error saying why not. */
  peerNodeId(socket: Socket): string;
}

/** Told of each upgrade refused for its certificate (rate-limited logging is the caller's). */
export type RefusalListener = (source: string, reason: string) => void;
export type UpgradeHandler = (socket: Socket, head: Buffer, req: IncomingMessage, admission: Admission) => void;

export interface UpgradeLimits {
  perSource: number;
  total: number;
  authTimeoutMs: number;
}

export const DEFAULT_UPGRADE_LIMITS: UpgradeLimits = { perSource: 32, total: 256, authTimeoutMs: 3_000 };

export interface UpgradeStats {
  untrusted: number;
  refused: number;
  timedOut: number;
}

export class UpgradeRouter {
  private readonly handlers = new Map<string, UpgradeHandler>();
  private readonly untrusted = new Map<string, number>();
  private untrustedTotal = 0;
  private readonly counters = { refused: 0, timedOut: 0 };
  private readonly limits: UpgradeLimits;
  private security: StreamSecurity | null = null;
  private onRefused: RefusalListener = () => {};

  constructor(
    limits: Partial<UpgradeLimits> = {},
    private readonly clock: Clock = systemClock,
  ) {
    this.limits = { ...DEFAULT_UPGRADE_LIMITS, ...limits };
  }

  register(protocol: string, handler: UpgradeHandler): void {
    this.handlers.set(protocol.toLowerCase(), handler);
  }

  /** Node-to-node streams need a node certificate from now on (mutual TLS). */
  requireCertificates(security: StreamSecurity, onRefused: RefusalListener): void {
    this.security = security;
    this.onRefused = onRefused;
  }

  stats(): UpgradeStats {
    return { untrusted: this.untrustedTotal, ...this.counters };
  }

  /** Wire to `httpServer.on("upgrade", router.handle)`. Unknown protocols get 400 and close. */
  readonly handle = (req: IncomingMessage, socket: Socket, head: Buffer): void => {
    const protocol = String(req.headers.upgrade ?? "").toLowerCase();
    const handler = this.handlers.get(protocol);
    if (!handler) {
      socket.end("HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
      return;
    }
    const source = sourceOf(socket);
    const fromSource = this.untrusted.get(source) ?? 0;
    if (fromSource >= this.limits.perSource || this.untrustedTotal >= this.limits.total) {
      this.counters.refused++;
      socket.end("HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
      socket.destroySoon();
      return;
    }
    let peerNodeId: string | undefined;
    if (this.security) {
      try {
        peerNodeId = this.security.peerNodeId(socket);
      } catch (err) {
        this.counters.refused++;
        this.onRefused(source, err instanceof Error ? err.message : String(err));
        socket.end("HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
        socket.destroySoon();
        return;
      }
    }
    this.untrusted.set(source, fromSource + 1);
    this.untrustedTotal++;
    let pending = true;
    const release = (): void => {
      if (!pending) return;
      pending = false;
      timer.cancel();
      this.untrustedTotal--;
      const left = (this.untrusted.get(source) ?? 1) - 1;
      if (left <= 0) this.untrusted.delete(source);
      else this.untrusted.set(source, left);
    };
    const timer = this.clock.setTimeout(() => {
      if (!pending) return;
      this.counters.timedOut++;
      release();
      socket.destroy();
    }, this.limits.authTimeoutMs);
    socket.once("close", release);
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: ${protocol}\r\nConnection: Upgrade\r\n\r\n`);
    socket.setNoDelay(true);
    handler(socket, head, req, { trusted: release, peerNodeId });
  };
}

/** The peer's IP address (IPv4-mapped IPv6 written as IPv4). */
export function sourceOf(socket: Socket): string {
  const address = socket.remoteAddress ?? "unknown";
  return address.startsWith("::ffff:") ? address.slice(7) : address;
}

/**
 * Client side: connect to host:port, ask for `protocol`, resolve with the raw socket once
 * the server answers 101 (any bytes after the response head are unshifted back). With `tls`,
 * the connection is TLS with those options (the server's identity checked by them).
 */
export function connectUpgrade(host: string, port: number, protocol: string, timeoutMs: number, tls?: ConnectionOptions, clock: Clock = systemClock): Promise<Socket> {
  const socket = tls ? tlsConnect({ ...tls, host, port }) : connect({ host, port });
  const upgraded = new Promise<Socket>((resolve, reject) => {
    socket.setNoDelay(true);
    let buffered = Buffer.alloc(0);
    const fail = (err: Error) => {
      socket.removeListener("data", onData);
      socket.destroy();
      reject(err);
    };
    const onData = (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      const end = buffered.indexOf("\r\n\r\n");
      if (end < 0) {
        if (buffered.length > 8192) fail(new Error("upgrade response too large"));
        return;
      }
      const head = buffered.subarray(0, end).toString("latin1");
      const rest = buffered.subarray(end + 4);
      if (!head.startsWith("HTTP/1.1 101")) return fail(new Error(`upgrade refused: ${head.split("\r\n")[0]}`));
      socket.removeListener("data", onData);
      socket.removeListener("error", fail);
      if (rest.length > 0) socket.unshift(rest);
      resolve(socket);
    };
    socket.on("data", onData);
    socket.once("error", fail);
    socket.once(tls ? "secureConnect" : "connect", () => {
      socket.write(
        `GET /_p2p/${protocol} HTTP/1.1\r\nHost: ${host}:${port}\r\nConnection: Upgrade\r\nUpgrade: ${protocol}\r\n\r\n`,
      );
    });
  });
  return withTimeout(upgraded, timeoutMs, clock, () => {
    socket.destroy();
    return new Error(`upgrade to ${host}:${port} timed out`);
  });
}
