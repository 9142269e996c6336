import { retransmitLimit } from "./config.js";

/**
 * Transmit-limited broadcast queue (memberlist's TransmitLimitedQueue): each broadcast is
 * piggybacked until sent retransmitMult × ⌈log10(N+1)⌉ times; least-transmitted first,
 * newest first among equals; a newer broadcast about the same member replaces the older.
 * Items live in one bucket per transmit count; stale bucket entries are skipped lazily.
 */
interface Item {
  key: string;
  message: Uint8Array;
  transmits: number;
  id: number;
  done: boolean;
  /** Called once when the item is dropped (sent enough, or superseded). */
  onDone?: () => void;
  /** Called after each transmission with the running count. */
  onSent?: (transmits: number) => void;
}

export interface BroadcastOptions {
  onDone?: () => void;
  onSent?: (transmits: number) => void;
}

export class BroadcastQueue {
  private readonly byKey = new Map<string, Item>();
  private buckets: Item[][] = [];
  private live: number[] = [];
  private nextId = 0;
  /** No queued message was ever shorter: once less room is left, nothing more can fit. */
  private minSize = Infinity;

  constructor(
    private readonly retransmitMult: number,
    private readonly numNodes: () => number,
  ) {}

  /** Queues `message` about member `key`, superseding any older broadcast about it. */
  queue(key: string, message: Uint8Array, options: BroadcastOptions = {}): void {
    const old = this.byKey.get(key);
    if (old) this.finish(old);
    const item: Item = { key, message, transmits: 0, id: this.nextId++, done: false, ...options };
    if (message.length < this.minSize) this.minSize = message.length;
    this.byKey.set(key, item);
    this.push(item);
  }

  get length(): number {
    return this.byKey.size;
  }

  /**
   * Takes broadcasts whose encoded size plus `overhead` each fits in `limit` bytes,
   * counting a transmission for each; drops those that reached the retransmit limit.
   */
  take(overhead: number, limit: number): Uint8Array[] {
    if (this.byKey.size === 0) return [];
    const maxTransmits = retransmitLimit(this.retransmitMult, this.numNodes());
    const picked: Item[] = [];
    let used = 0;
    const smallest = this.minSize + overhead;
    scan: for (let level = 0; level < this.buckets.length && used + overhead < limit; level++) {
      const bucket = this.buckets[level]!;
      for (let i = bucket.length - 1; i >= 0; i--) {
        // The packet is full: the rest of the queue would only be skipped (saturated queues hold thousands).
        if (limit - used < smallest) break scan;
        const item = bucket[i]!;
        if (item.done || item.transmits !== level) continue;
        const size = item.message.length + overhead;
        if (used + size > limit) continue;
        used += size;
        picked.push(item);
      }
    }
    const out: Uint8Array[] = [];
    for (const item of picked) {
      out.push(item.message);
      this.live[item.transmits]!--;
      item.transmits++;
      item.onSent?.(item.transmits);
      if (item.transmits >= maxTransmits) this.finish(item, false);
      else this.push(item);
    }
    this.compact();
    return out;
  }

  /** Drops everything (shutdown), completing waiters. */
  reset(): void {
    for (const item of [...this.byKey.values()]) this.finish(item);
    this.buckets = [];
    this.live = [];
  }

  private finish(item: Item, counted = true): void {
    if (item.done) return;
    item.done = true;
    if (counted && this.live[item.transmits] !== undefined) this.live[item.transmits]!--;
    if (this.byKey.get(item.key) === item) this.byKey.delete(item.key);
    item.onDone?.();
  }

  private push(item: Item): void {
    while (this.buckets.length <= item.transmits) {
      this.buckets.push([]);
      this.live.push(0);
    }
    this.buckets[item.transmits]!.push(item);
    this.live[item.transmits]!++;
  }

  /**
   * Drops stale entries at the end of each bucket (those just taken: take() reads newest
   * first, so they pile up where the next scan starts), and all of them once they outnumber
   * live ones.
   */
  private compact(): void {
    for (let level = 0; level < this.buckets.length; level++) {
      const bucket = this.buckets[level]!;
      while (bucket.length > 0) {
        const last = bucket[bucket.length - 1]!;
        if (!last.done && last.transmits === level) break;
        bucket.pop();
      }
      if (bucket.length < 32 || this.live[level]! * 2 >= bucket.length) continue;
      this.buckets[level] = bucket.filter((it) => !it.done && it.transmits === level);
    }
  }
}
