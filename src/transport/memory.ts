import type { Clock, Timer } from "../util/clock.js";
import type { Random } from "../util/random.js";
import type { ExchangeHandler, PacketHandler, Transport } from "./transport.js";

/**
 * An in-memory simulated network on an injected clock and random: per-link loss and delay,
 * partitions, one-way blocks and "stalls" (a node that processes nothing for a while, like
 * a process starved of CPU). One network per test, never global. Exchanges (reliable
 * request/response) are subject to partitions, blocks and stalls but not to loss.
 */
export interface LinkOptions {
  /** Probability in [0, 1] that a packet on this link is lost. */
  loss: number;
  /** One-way latency in ms. */
  delayMs: number;
  /** Extra uniformly random latency in [0, jitterMs). */
  jitterMs: number;
}

export interface TrafficStats {
  packetsOut: number;
  bytesOut: number;
  packetsIn: number;
  bytesIn: number;
  exchangesOut: number;
  exchangeBytesOut: number;
  /** Bytes of the replies to this address's exchanges. */
  exchangeBytesBack: number;
}

export interface MemoryNetworkOptions {
  link?: Partial<LinkOptions>;
  maxPacketSize?: number;
}

const DEFAULT_LINK: LinkOptions = { loss: 0, delayMs: 1, jitterMs: 0 };

function emptyStats(): TrafficStats {
  return { packetsOut: 0, bytesOut: 0, packetsIn: 0, bytesIn: 0, exchangesOut: 0, exchangeBytesOut: 0, exchangeBytesBack: 0 };
}

export class MemoryNetwork {
  private readonly nodes = new Map<string, MemoryTransport>();
  private readonly links = new Map<string, LinkOptions>();
  private readonly blocked = new Set<string>();
  private readonly partitionOf = new Map<string, number>();
  private readonly stalledUntil = new Map<string, number>();
  private readonly backlog = new Map<string, Array<() => void>>();
  private readonly stats = new Map<string, TrafficStats>();
  private defaultLink: LinkOptions;
  readonly maxPacketSize: number;

  constructor(
    readonly clock: Clock,
    readonly random: Random,
    options: MemoryNetworkOptions = {},
  ) {
    this.defaultLink = { ...DEFAULT_LINK, ...options.link };
    this.maxPacketSize = options.maxPacketSize ?? 1400;
  }

  /** A transport bound to `address`; replaces a closed one at the same address (restart). */
  transport(address: string): MemoryTransport {
    const existing = this.nodes.get(address);
    if (existing && !existing.closed) throw new Error(`address ${address} already in use`);
    const t = new MemoryTransport(this, address);
    this.nodes.set(address, t);
    return t;
  }

  /** Default options for every link without its own. */
  setDefaultLink(options: Partial<LinkOptions>): void {
    this.defaultLink = { ...this.defaultLink, ...options };
  }

  /** Options of the one-way link from → to. */
  setLink(from: string, to: string, options: Partial<LinkOptions>): void {
    this.links.set(`${from}>${to}`, { ...this.linkOf(from, to), ...options });
  }

  /** Nothing passes between the two groups (both directions) until heal(). */
  partition(groupA: string[], groupB: string[]): void {
    for (const a of groupA) this.partitionOf.set(a, 1);
    for (const b of groupB) this.partitionOf.set(b, 2);
  }

  /** Removes partitions and one-way blocks. */
  heal(): void {
    this.partitionOf.clear();
    this.blocked.clear();
  }

  /** Drops everything sent from → to (one direction only). */
  block(from: string, to: string): void {
    this.blocked.add(`${from}>${to}`);
  }

  unblock(from: string, to: string): void {
    this.blocked.delete(`${from}>${to}`);
  }

  /**
   * The node at `address` processes nothing for `ms`: what arrives meanwhile is buffered
   * and handled when the stall ends, and timers of clockFor(address) fire late.
   */
  stall(address: string, ms: number): void {
    const until = this.clock.now() + ms;
    if ((this.stalledUntil.get(address) ?? 0) >= until) return;
    this.stalledUntil.set(address, until);
    this.clock.setTimeout(() => this.resume(address, until), ms);
  }

  isStalled(address: string): boolean {
    if (this.stalledUntil.size === 0) return false;
    return (this.stalledUntil.get(address) ?? -1) > this.clock.now();
  }

  /** A clock whose callbacks are deferred while `address` is stalled. */
  clockFor(address: string): Clock {
    const base = this.clock;
    const run = (fn: () => void): void => {
      if (this.isStalled(address)) this.defer(address, fn);
      else fn();
    };
    return {
      now: () => base.now(),
      setTimeout: (fn, ms): Timer => base.setTimeout(() => run(fn), ms),
      setInterval: (fn, ms): Timer => {
        let pending = false;
        return base.setInterval(() => {
          if (pending) return; // ticks missed during a stall collapse into one
          pending = true;
          run(() => {
            pending = false;
            fn();
          });
        }, ms);
      },
    };
  }

  /** Traffic counters of one address (or of the whole network without an argument). */
  traffic(address?: string): TrafficStats {
    if (address !== undefined) return { ...(this.stats.get(address) ?? emptyStats()) };
    const total = emptyStats();
    for (const s of this.stats.values()) {
      for (const k of Object.keys(total) as Array<keyof TrafficStats>) total[k] += s[k];
    }
    return total;
  }

  resetTraffic(): void {
    this.stats.clear();
  }

  /** @internal used by MemoryTransport */
  sendPacket(from: string, to: string, data: Uint8Array): void {
    const out = this.statsOf(from);
    out.packetsOut++;
    out.bytesOut += data.length;
    if (!this.passes(from, to)) return;
    const link = this.linkOf(from, to);
    if (link.loss > 0 && this.random.next() < link.loss) return;
    // A copy, as a socket would hand over: from Buffer's pool (a packet-sized ArrayBuffer of
    // its own per packet costs a malloc and GC bookkeeping, millions of times in a simulation).
    const copy: Uint8Array = Buffer.from(data);
    this.clock.setTimeout(() => this.arrive(from, to, copy), this.latency(link));
  }

  private arrive(from: string, to: string, data: Uint8Array): void {
    if (this.isStalled(to)) this.defer(to, () => this.deliver(from, to, data));
    else this.deliver(from, to, data);
  }

  private deliver(from: string, to: string, data: Uint8Array): void {
    const target = this.nodes.get(to);
    if (!target || target.closed) return;
    const inn = this.statsOf(to);
    inn.packetsIn++;
    inn.bytesIn += data.length;
    target.deliverPacket(from, data);
  }

  /** @internal used by MemoryTransport */
  exchange(from: string, to: string, data: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    const out = this.statsOf(from);
    out.exchangesOut++;
    out.exchangeBytesOut += data.length;
    return new Promise<Uint8Array>((resolve, reject) => {
      let settled = false;
      const finish = (err: Error | null, value?: Uint8Array): void => {
        if (settled) return;
        settled = true;
        timer.cancel();
        if (err) reject(err);
        else resolve(value!);
      };
      const timer = this.clock.setTimeout(() => finish(new Error(`exchange with ${to} timed out`)), timeoutMs);
      if (!this.passes(from, to)) return; // like a TCP connect into a partition: times out
      const target = this.nodes.get(to);
      if (!target || target.closed) {
        finish(new Error(`connection refused by ${to}`));
        return;
      }
      const link = this.linkOf(from, to);
      const copy: Uint8Array = Buffer.from(data);
      this.clock.setTimeout(() => {
        this.whenAwake(to, () => {
          const handler = target.closed ? null : target.exchangeHandler;
          if (!handler) return finish(new Error(`connection refused by ${to}`));
          handler(from, copy).then(
            (reply) => {
              const back = this.linkOf(to, from);
              this.clock.setTimeout(() => {
                if (!this.passes(to, from)) return;
                this.statsOf(from).exchangeBytesBack += reply.length;
                finish(null, Buffer.from(reply));
              }, this.latency(back));
            },
            (err: unknown) => finish(err instanceof Error ? err : new Error(String(err))),
          );
        });
      }, this.latency(link));
    });
  }

  private passes(from: string, to: string): boolean {
    // Most simulations block and partition nothing: no key string per packet then.
    if (this.blocked.size === 0 && this.partitionOf.size === 0) return true;
    if (this.blocked.has(`${from}>${to}`)) return false;
    const pa = this.partitionOf.get(from);
    const pb = this.partitionOf.get(to);
    return pa === undefined || pb === undefined || pa === pb;
  }

  private linkOf(from: string, to: string): LinkOptions {
    if (this.links.size === 0) return this.defaultLink;
    return this.links.get(`${from}>${to}`) ?? this.defaultLink;
  }

  private latency(link: LinkOptions): number {
    return link.delayMs + (link.jitterMs > 0 ? this.random.next() * link.jitterMs : 0);
  }

  private whenAwake(address: string, fn: () => void): void {
    if (this.isStalled(address)) this.defer(address, fn);
    else fn();
  }

  private defer(address: string, fn: () => void): void {
    let list = this.backlog.get(address);
    if (!list) this.backlog.set(address, (list = []));
    list.push(fn);
  }

  private resume(address: string, until: number): void {
    if (this.stalledUntil.get(address) !== until) return; // extended by a later stall()
    this.stalledUntil.delete(address);
    const list = this.backlog.get(address) ?? [];
    this.backlog.delete(address);
    for (const fn of list) fn();
  }

  private statsOf(address: string): TrafficStats {
    let s = this.stats.get(address);
    if (!s) this.stats.set(address, (s = emptyStats()));
    return s;
  }
}

export class MemoryTransport implements Transport {
  readonly maxPacketSize: number;
  closed = false;
  private packetHandler: PacketHandler | null = null;
  /** @internal */
  exchangeHandler: ExchangeHandler | null = null;

  constructor(
    private readonly network: MemoryNetwork,
    readonly localAddress: string,
  ) {
    this.maxPacketSize = network.maxPacketSize;
  }

  sendPacket(to: string, data: Uint8Array): void {
    if (this.closed) return;
    if (data.length > this.maxPacketSize) return; // like a datagram too large: silently lost
    this.network.sendPacket(this.localAddress, to, data);
  }

  setPacketHandler(handler: PacketHandler): void {
    this.packetHandler = handler;
  }

  exchange(to: string, data: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    if (this.closed) return Promise.reject(new Error("transport closed"));
    return this.network.exchange(this.localAddress, to, data, timeoutMs);
  }

  setExchangeHandler(handler: ExchangeHandler): void {
    this.exchangeHandler = handler;
  }

  /** @internal */
  deliverPacket(from: string, data: Uint8Array): void {
    if (this.closed || !this.packetHandler) return;
    try {
      this.packetHandler(from, data);
    } catch {
      // a handler must never throw; a simulated socket swallows it like a real one would crash-log
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.packetHandler = null;
    this.exchangeHandler = null;
  }
}
