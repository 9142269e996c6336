import { createSocket, type RemoteInfo, type Socket as DgramSocket } from "node:dgram";
import { isIPv6 } from "node:net";
import type { Socket } from "node:net";
import { encodeFrame, FrameDecoder } from "./framing.js";
import { splitHostPort, type ExchangeHandler, type PacketHandler, type Transport } from "./transport.js";
import { connectUpgrade, type Admission, type StreamSecurity, type UpgradeRouter } from "./upgrade.js";
import { systemClock, type Clock } from "../util/clock.js";
import { withTimeout } from "../util/with-timeout.js";

/**
 * The production Transport: UDP packets on the node's port number, exchanges over a TCP
 * stream upgraded ("p2p-sync") on the node's HTTP port: a small ticket frame, then one
 * request frame; one response frame back. Payloads are opaque here (sealing happens above),
 * but the ticket is checked by the ExchangeGuard before the request is read: until then
 * the server reads at most TICKET_MAX bytes, and the request may not exceed the length
 * the ticket vouches for. So an unauthenticated client can make it buffer a few KiB, never
 * megabytes (the upgrade router bounds how many such clients and for how long).
 */
export const SYNC_PROTOCOL = "p2p-sync";
export const UDP_MAX_PACKET = 1400;
const MAX_EXCHANGE_FRAME = 8 * 1024 * 1024;
const TICKET_MAX = 1024;
const DEFAULT_EXCHANGE_TIMEOUT_MS = 10_000;

/** Vouches for an exchange request before its bytes are read (cluster-key proof in production). */
export interface ExchangeGuard {
  /** The ticket sent ahead of a request of `length` bytes. */
  ticket(length: number): Uint8Array;
  /** The request length a ticket allows, or null when it proves nothing. */
  admit(ticket: Uint8Array): number | null;
}

/** No proof (development mode, tests): the ticket only announces the length. */
export const lengthOnlyGuard: ExchangeGuard = {
  ticket(length) {
    const out = Buffer.alloc(4);
    out.writeUInt32BE(length);
    return out;
  },
  admit(ticket) {
    return ticket.length === 4 ? Buffer.from(ticket.buffer, ticket.byteOffset, 4).readUInt32BE(0) : null;
  },
};

export interface UdpTransportOptions {
  /** Address both sockets bind to, e.g. "0.0.0.0", "127.0.0.1", "::". */
  bindAddress: string;
  /** The node's HTTP TCP port; the UDP socket binds the same number. */
  port: number;
  /** What other members dial: "host:port", or a bare host (then `port` is appended). */
  advertise: string;
  upgradeRouter: UpgradeRouter;
  /** Idle limit for the server side of an exchange stream (default 10 s). */
  exchangeTimeoutMs?: number;
  /** Checks exchange tickets (default: lengthOnlyGuard). */
  guard?: ExchangeGuard;
  /** Mutual TLS for exchanges (the server side is checked by the upgrade router). */
  security?: StreamSecurity;
  /** Times exchanges out (default: the system clock). */
  clock?: Clock;
}

export interface UdpTransportStats {
  packetsSent: number;
  packetsReceived: number;
  oversizeDropped: number;
  sendErrors: number;
  exchangesServed: number;
  exchangeServerFailures: number;
}

export class UdpTransport implements Transport {
  readonly maxPacketSize = UDP_MAX_PACKET;
  readonly localAddress: string;
  private packetHandler: PacketHandler = () => {};
  private exchangeHandler: ExchangeHandler = async () => {
    throw new Error("no exchange handler");
  };
  private readonly serverSockets = new Set<Socket>();
  private readonly counters: UdpTransportStats = {
    packetsSent: 0,
    packetsReceived: 0,
    oversizeDropped: 0,
    sendErrors: 0,
    exchangesServed: 0,
    exchangeServerFailures: 0,
  };
  private closed = false;

  private constructor(
    private readonly udp: DgramSocket,
    private readonly exchangeTimeoutMs: number,
    advertise: string,
    private readonly guard: ExchangeGuard,
    private readonly security: StreamSecurity | undefined,
    private readonly clock: Clock,
  ) {
    this.localAddress = advertise;
  }

  static async create(opts: UdpTransportOptions): Promise<UdpTransport> {
    const udp = createSocket({ type: isIPv6(opts.bindAddress) ? "udp6" : "udp4" });
    await new Promise<void>((resolve, reject) => {
      udp.once("error", (err) => {
        udp.close();
        reject(err);
      });
      udp.bind(opts.port, opts.bindAddress, () => {
        udp.removeAllListeners("error");
        resolve();
      });
    });
    const advertise = normaliseAdvertise(opts.advertise, opts.port);
    const transport = new UdpTransport(udp, opts.exchangeTimeoutMs ?? DEFAULT_EXCHANGE_TIMEOUT_MS, advertise, opts.guard ?? lengthOnlyGuard, opts.security, opts.clock ?? systemClock);
    udp.on("message", (msg, rinfo) => transport.onPacket(msg, rinfo));
    udp.on("error", () => {
      transport.counters.sendErrors++;
    });
    opts.upgradeRouter.register(SYNC_PROTOCOL, (socket, head, _req, admission) => transport.serveExchange(socket, head, admission));
    return transport;
  }

  stats(): UdpTransportStats {
    return { ...this.counters };
  }

  sendPacket(to: string, data: Uint8Array): void {
    if (this.closed) return;
    if (data.length > this.maxPacketSize) {
      this.counters.oversizeDropped++;
      return;
    }
    try {
      const { host, port } = splitHostPort(to);
      this.udp.send(data, port, host, (err) => {
        if (err) this.counters.sendErrors++;
      });
      this.counters.packetsSent++;
    } catch {
      this.counters.sendErrors++;
    }
  }

  setPacketHandler(handler: PacketHandler): void {
    this.packetHandler = handler;
  }

  setExchangeHandler(handler: ExchangeHandler): void {
    this.exchangeHandler = handler;
  }

  async exchange(to: string, data: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    if (this.closed) throw new Error("transport closed");
    const { host, port } = splitHostPort(to);
    const started = this.clock.now();
    // Exchanges dial addresses (seeds, members): any node of the cluster may answer.
    const socket = await connectUpgrade(host, port, SYNC_PROTOCOL, timeoutMs, this.security?.clientOptions(null), this.clock);
    const remaining = Math.max(1, timeoutMs - (this.clock.now() - started));
    const response = new Promise<Uint8Array>((resolve, reject) => {
      const decoder = new FrameDecoder(MAX_EXCHANGE_FRAME);
      let done = false;
      const finish = (err: Error | null, frame?: Buffer) => {
        if (done) return;
        done = true;
        socket.destroy();
        if (err) reject(err);
        else resolve(frame!);
      };
      socket.on("data", (chunk: Buffer) => {
        try {
          const frames = decoder.push(chunk);
          if (frames.length > 0) finish(null, Buffer.from(frames[0]!));
        } catch (err) {
          finish(err instanceof Error ? err : new Error(String(err)));
        }
      });
      socket.on("error", (err) => finish(err));
      socket.on("close", () => finish(new Error(`exchange with ${to}: connection closed before a response`)));
      socket.write(Buffer.concat([encodeFrame(this.guard.ticket(data.length)), encodeFrame(data)]));
    });
    return withTimeout(response, remaining, this.clock, () => {
      socket.destroy();
      return new Error(`exchange with ${to} timed out`);
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const socket of this.serverSockets) socket.destroy();
    this.serverSockets.clear();
    await new Promise<void>((resolve) => this.udp.close(() => resolve()));
  }

  private onPacket(msg: Buffer, rinfo: RemoteInfo): void {
    this.counters.packetsReceived++;
    const from = rinfo.family === "IPv6" ? `[${rinfo.address}]:${rinfo.port}` : `${rinfo.address}:${rinfo.port}`;
    try {
      this.packetHandler(from, msg);
    } catch {
      // a handler bug must not take the socket down
    }
  }

  /** Server side of one exchange: read the ticket, then one frame, answer one frame, close. Never throws. */
  private serveExchange(socket: Socket, head: Buffer, admission: Admission): void {
    if (this.closed) {
      socket.destroy();
      return;
    }
    this.serverSockets.add(socket);
    const address = socket.remoteAddress ?? "unknown";
    const from = isIPv6(address) ? `[${address}]:${socket.remotePort}` : `${address}:${socket.remotePort}`;
    const decoder = new FrameDecoder(TICKET_MAX);
    let admitted = false;
    let answered = false;
    const fail = () => {
      this.counters.exchangeServerFailures++;
      socket.destroy();
    };
    socket.setTimeout(this.exchangeTimeoutMs, fail);
    socket.on("error", () => socket.destroy());
    socket.on("close", () => this.serverSockets.delete(socket));
    const onBytes = (chunk: Buffer) => {
      if (answered) return;
      let frames: Buffer[];
      try {
        frames = decoder.push(chunk, 1);
        if (!admitted && frames.length > 0) {
          const allowed = this.guard.admit(frames[0]!);
          if (allowed === null || allowed > MAX_EXCHANGE_FRAME) return fail();
          admitted = true;
          admission.trusted();
          decoder.maxFrame = allowed;
          frames = decoder.push(Buffer.alloc(0), 1);
        }
      } catch {
        return fail();
      }
      if (frames.length === 0) return;
      answered = true;
      const request = Buffer.from(frames[0]!);
      Promise.resolve()
        .then(() => this.exchangeHandler(from, request, admission.peerNodeId))
        .then(
          (response) => {
            this.counters.exchangesServed++;
            socket.end(encodeFrame(response));
          },
          () => fail(),
        );
    };
    socket.on("data", onBytes);
    if (head.length > 0) onBytes(head);
  }
}

function normaliseAdvertise(advertise: string, port: number): string {
  if (advertise.startsWith("[")) return advertise;
  const colons = advertise.split(":").length - 1;
  if (colons === 1) return advertise;
  if (colons > 1) return `[${advertise}]:${port}`;
  return `${advertise}:${port}`;
}
