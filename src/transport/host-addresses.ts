import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import { LRUCache } from "lru-cache";
import type { Clock } from "../util/clock.js";
import { withTimeout } from "../util/with-timeout.js";

/**
 * The IP addresses a host name stands for, to compare with where a connection comes from.
 * An IP literal is itself. A name is looked up (dns.lookup, every address) the first time
 * it is asked for, and again once its answer is older than `ttlMs`; one lookup runs at a
 * time per name, the last good answer is kept while a new lookup fails, and at most
 * `maxNames` names are remembered. A name that never resolved has no addresses.
 */
export type LookupAll = (host: string) => Promise<string[]>;

export interface HostAddressesOptions {
  clock: Clock;
  /** Default: dns.lookup with `all: true`. */
  lookup?: LookupAll;
  ttlMs?: number;
  /** Bound on one lookup (getaddrinfo has none of its own). */
  timeoutMs?: number;
  maxNames?: number;
}

interface Entry {
  addresses: string[];
  resolvedAt: number;
  pending: Promise<string[]> | null;
}

export const systemLookup: LookupAll = async (host) => (await lookup(host, { all: true, verbatim: true })).map((a) => a.address);

/** IPv4-mapped IPv6 written as IPv4, as sockets' peer addresses are compared. */
export function plainIp(address: string): string {
  return address.startsWith("::ffff:") && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}

export class HostAddresses {
  private readonly clock: Clock;
  private readonly lookup: LookupAll;
  private readonly ttlMs: number;
  private readonly timeoutMs: number;
  private readonly names: LRUCache<string, Entry>;

  constructor(options: HostAddressesOptions) {
    this.clock = options.clock;
    this.lookup = options.lookup ?? systemLookup;
    this.ttlMs = options.ttlMs ?? 60_000;
    this.timeoutMs = options.timeoutMs ?? 2_000;
    this.names = new LRUCache({ max: options.maxNames ?? 1024 });
  }

  /** The addresses of `host` (waits for a lookup only when none is known yet or it expired). */
  async of(host: string): Promise<string[]> {
    if (isIP(host) !== 0) return [plainIp(host)];
    const key = host.toLowerCase();
    let entry = this.names.get(key);
    if (!entry) {
      entry = { addresses: [], resolvedAt: Number.NEGATIVE_INFINITY, pending: null };
      this.names.set(key, entry);
    }
    if (this.clock.now() - entry.resolvedAt < this.ttlMs) return entry.addresses;
    entry.pending ??= this.refresh(key, entry);
    return entry.pending;
  }

  private async refresh(host: string, entry: Entry): Promise<string[]> {
    try {
      const found = await withTimeout(this.lookup(host), this.timeoutMs, this.clock, () => new Error(`lookup of ${host} timed out`));
      entry.addresses = [...new Set(found.map(plainIp))];
      entry.resolvedAt = this.clock.now();
    } catch {
      // Keep the last good answer (none for a name never resolved); try again on next use.
    } finally {
      entry.pending = null;
    }
    return entry.addresses;
  }
}
