import type { Timer } from "./clock.js";

/** Told when one of its entries is cancelled (TimerQueue counts the live ones). */
export interface TimerOwner {
  cancelled(): void;
}

/**
 * A timer as a heap entry, and the handle its setter cancels it with: due at `at`, ties in
 * `seq` (creation) order, repeating every `every` ms unless null. A cancelled (or fired
 * one-shot) entry is marked done and dropped lazily when it comes up.
 */
export class TimerEntry implements Timer {
  done = false;

  constructor(
    public at: number,
    public seq: number,
    readonly fn: () => void,
    readonly every: number | null,
    private readonly owner: TimerOwner | null,
  ) {}

  cancel(): void {
    if (this.done) return;
    this.done = true;
    this.owner?.cancelled();
  }
}

/** What a TimerHeap orders by: earliest `at` first, then smallest `seq`. */
export interface Due {
  at: number;
  seq: number;
}

function before(a: Due, b: Due): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}

/** A binary min-heap of due items (timers, or FakeClock's per-instant slots). */
export class TimerHeap<T extends Due> {
  private items: T[] = [];

  get size(): number {
    return this.items.length;
  }

  /** The earliest item, left in place. */
  peek(): T | undefined {
    return this.items[0];
  }

  push(item: T): void {
    const h = this.items;
    let i = h.push(item) - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(item, h[parent]!)) break;
      h[i] = h[parent]!;
      i = parent;
    }
    h[i] = item;
  }

  /** Removes and returns the earliest item. */
  pop(): T | undefined {
    const h = this.items;
    const top = h[0];
    const last = h.pop();
    if (h.length === 0 || last === undefined) return top;
    this.siftDown(0, last);
    return top;
  }

  /** Keeps only the items `keep` accepts (in O(n): one heapify). */
  retain(keep: (item: T) => boolean): void {
    this.items = this.items.filter(keep);
    for (let i = (this.items.length >> 1) - 1; i >= 0; i--) this.siftDown(i, this.items[i]!);
  }

  /** Every item, in no particular order. */
  values(): readonly T[] {
    return this.items;
  }

  private siftDown(start: number, item: T): void {
    const h = this.items;
    const n = h.length;
    let i = start;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const child = r < n && before(h[r]!, h[l]!) ? r : l;
      if (!before(h[child]!, item)) break;
      h[i] = h[child]!;
      i = child;
    }
    h[i] = item;
  }
}
