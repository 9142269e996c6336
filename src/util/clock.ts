/**
 * Every timer and now() of the protocol goes through a Clock so that simulations can run
 * on a FakeClock: thousands of members, minutes of protocol time, in seconds, deterministically.
 */
export interface Timer {
  cancel(): void;
}

export interface Clock {
  /** Milliseconds on a monotonic scale. */
  now(): number;
  setTimeout(fn: () => void, ms: number): Timer;
  setInterval(fn: () => void, ms: number): Timer;
}

export const systemClock: Clock = {
  now: () => performance.now(),
  setTimeout(fn, ms) {
    const handle = setTimeout(fn, ms);
    handle.unref?.();
    return { cancel: () => clearTimeout(handle) };
  },
  setInterval(fn, ms) {
    const handle = setInterval(fn, ms);
    handle.unref?.();
    return { cancel: () => clearInterval(handle) };
  },
};

class Scheduled implements Timer {
  cancelled = false;
  constructor(
    public at: number,
    public seq: number,
    readonly fn: () => void,
    readonly every: number | null,
  ) {}
  cancel(): void {
    this.cancelled = true;
  }
}

/** Timers due at one instant, in creation order (seq only grows, so appending keeps it sorted). */
interface Slot {
  at: number;
  items: Scheduled[];
  head: number;
}

/**
 * A deterministic clock: advance(ms) fires due timers in time order (ties: creation order).
 * Timers are grouped by due time (one slot per instant, a min-heap of instants): most timers
 * of a simulation fall on a few instants (every packet of a 1 ms link sent at t is due at
 * t + 1), so scheduling is O(1) there instead of a sorted insert into all pending timers.
 */
export class FakeClock implements Clock {
  private time = 0;
  private seq = 0;
  private readonly slots = new Map<number, Slot>();
  /** Instants with a slot, as a binary min-heap. */
  private readonly heap: number[] = [];

  constructor(start = 0) {
    this.time = start;
  }

  now(): number {
    return this.time;
  }

  setTimeout(fn: () => void, ms: number): Timer {
    return this.schedule(fn, ms, null);
  }

  setInterval(fn: () => void, ms: number): Timer {
    return this.schedule(fn, ms, Math.max(1, ms));
  }

  /** Number of timers still pending. */
  get pending(): number {
    let n = 0;
    for (const slot of this.slots.values()) for (let i = slot.head; i < slot.items.length; i++) if (!slot.items[i]!.cancelled) n++;
    return n;
  }

  advance(ms: number): void {
    const until = this.time + ms;
    for (;;) {
      const next = this.popDue(until);
      if (!next) break;
      this.time = next.at;
      if (next.every !== null) {
        next.at += next.every;
        next.seq = this.seq++;
        this.insert(next);
      }
      next.fn();
    }
    this.time = until;
  }

  private schedule(fn: () => void, ms: number, every: number | null): Timer {
    const entry = new Scheduled(this.time + Math.max(0, ms), this.seq++, fn, every);
    this.insert(entry);
    return entry;
  }

  private insert(entry: Scheduled): void {
    let slot = this.slots.get(entry.at);
    if (!slot) {
      slot = { at: entry.at, items: [], head: 0 };
      this.slots.set(entry.at, slot);
      this.heapPush(entry.at);
    }
    slot.items.push(entry);
  }

  private popDue(until: number): Scheduled | undefined {
    while (this.heap.length > 0) {
      const at = this.heap[0]!;
      if (at > until) return undefined;
      const slot = this.slots.get(at)!;
      while (slot.head < slot.items.length) {
        const entry = slot.items[slot.head++]!;
        if (!entry.cancelled) return entry;
      }
      // Drained (a timer set for this very instant while it fires gets a new slot).
      this.slots.delete(at);
      this.heapPop();
    }
    return undefined;
  }

  private heapPush(at: number): void {
    const h = this.heap;
    let i = h.length;
    h.push(at);
    while (i > 0) {
      const parent = (i - 1) >>> 1;
      if (h[parent]! <= at) break;
      h[i] = h[parent]!;
      i = parent;
    }
    h[i] = at;
  }

  private heapPop(): void {
    const h = this.heap;
    const last = h.pop()!;
    if (h.length === 0) return;
    let i = 0;
    const n = h.length;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && h[r]! < h[l]! ? r : l;
      if (h[c]! >= last) break;
      h[i] = h[c]!;
      i = c;
    }
    h[i] = last;
  }
}
