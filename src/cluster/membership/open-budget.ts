import { LRUCache } from "lru-cache";
import type { Clock } from "../../util/clock.js";

/**
 * How many packets that fail to open (wrong key, garbage) one source IP address may cost
 * this node per window. Opening a sealed packet is the expensive step of receiving one
 * (an AES-GCM decipher per key tried; a failure also throws), so past `maxFailures` in a
 * window the rest of that address's packets are dropped unopened until the window ends.
 * A packet from a member's own gossip address ("ip:port", as membership knows it) is always
 * opened: an address spoofing a member's IP cannot silence that member. Bounded: at most
 * `maxSources` addresses are remembered (least recently seen forgotten first).
 */
export interface OpenBudgetOptions {
  clock: Clock;
  /** Gossip addresses of the current members ("host:port"); read at most once a second. */
  memberAddresses: () => Iterable<string>;
  maxFailures?: number;
  windowMs?: number;
  maxSources?: number;
}

interface Window {
  startedAt: number;
  failures: number;
}

const MEMBER_REFRESH_MS = 1_000;

export class OpenBudget {
  private readonly clock: Clock;
  private readonly maxFailures: number;
  private readonly windowMs: number;
  /** Created at the first failure: most members never see one, and the cache preallocates its capacity. */
  private sources: LRUCache<string, Window> | null = null;
  private readonly maxSources: number;
  private members = new Set<string>();
  private membersReadAt = Number.NEGATIVE_INFINITY;

  constructor(private readonly options: OpenBudgetOptions) {
    this.clock = options.clock;
    this.maxFailures = options.maxFailures ?? 64;
    this.windowMs = options.windowMs ?? 10_000;
    this.maxSources = options.maxSources ?? 10_000;
  }

  /** Whether a packet from `from` ("ip:port", source `ip`) is worth opening. */
  allows(ip: string, from: string): boolean {
    const window = this.current(ip);
    if (!window || window.failures < this.maxFailures) return true;
    return this.isMember(from);
  }

  /** A packet from `ip` did not open. */
  failed(ip: string): void {
    const window = this.current(ip);
    if (window) window.failures++;
    else (this.sources ??= new LRUCache({ max: this.maxSources })).set(ip, { startedAt: this.clock.now(), failures: 1 });
  }

  private current(ip: string): Window | undefined {
    const window = this.sources?.get(ip);
    if (window && this.clock.now() - window.startedAt >= this.windowMs) {
      this.sources!.delete(ip);
      return undefined;
    }
    return window;
  }

  private isMember(from: string): boolean {
    const now = this.clock.now();
    if (now - this.membersReadAt >= MEMBER_REFRESH_MS) {
      this.members = new Set(this.options.memberAddresses());
      this.membersReadAt = now;
    }
    return this.members.has(from);
  }
}
