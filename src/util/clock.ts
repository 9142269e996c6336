import { TimerEntry, TimerHeap, type Due } from "./timer-heap.js";

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

/** Timers due at one instant, in creation order (seq only grows, so appending keeps it sorted). */
interface Slot extends Due {
  items: TimerEntry[];
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
  /** The slots, earliest instant first (instants are unique: seq is 0 in each). */
  private readonly heap = new TimerHeap<Slot>();

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
    for (const slot of this.slots.values()) for (let i = slot.head; i < slot.items.length; i++) if (!slot.items[i]!.done) n++;
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
      } else {
        next.done = true;
      }
      next.fn();
    }
    this.time = until;
  }

  private schedule(fn: () => void, ms: number, every: number | null): Timer {
    const entry = new TimerEntry(this.time + Math.max(0, ms), this.seq++, fn, every, null);
    this.insert(entry);
    return entry;
  }

  private insert(entry: TimerEntry): void {
    let slot = this.slots.get(entry.at);
    if (!slot) {
      slot = { at: entry.at, seq: 0, items: [], head: 0 };
      this.slots.set(entry.at, slot);
      this.heap.push(slot);
    }
    slot.items.push(entry);
  }

  private popDue(until: number): TimerEntry | undefined {
    for (let slot = this.heap.peek(); slot !== undefined; slot = this.heap.peek()) {
      if (slot.at > until) return undefined;
      while (slot.head < slot.items.length) {
        const entry = slot.items[slot.head++]!;
        if (!entry.done) return entry;
      }
      // Drained (a timer set for this very instant while it fires gets a new slot).
      this.slots.delete(slot.at);
      this.heap.pop();
    }
    return undefined;
  }
}
