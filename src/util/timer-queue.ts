import type { Clock, Timer } from "./clock.js";
import { TimerEntry, TimerHeap, type TimerOwner } from "./timer-heap.js";

/** Below this many entries the heap is never rebuilt for cancelled ones. */
const MIN_COMPACT = 64;

/**
 * Many one-shot timers on one timer of the underlying Clock. Every call this node runs arms two
 * timers (its deadline, and the local-execution slot's cap) and cancels both a few
 * milliseconds later; on Node a timer is an async resource with its own list entry, ~0.8 µs
 * per arm-and-cancel on Node 20 with AsyncLocalStorage on. Here a timer is a heap entry, and the
 * underlying Clock timer is armed only for the earliest one, so it is re-armed rarely (calls of
 * one method get ever later deadlines). A timer fires exactly when the Clock would have fired it
 * (due at its time; ties in the order they were set); a cancelled one is dropped lazily, and the
 * heap is rebuilt when cancelled entries outnumber live ones, so memory follows the timers alive.
 * `now()` and `setInterval` are the Clock's own.
 */
export class TimerQueue implements Clock, TimerOwner {
  private readonly heap = new TimerHeap<TimerEntry>();
  private live = 0;
  private seq = 0;
  private armed: Timer | null = null;
  private armedAt = Number.POSITIVE_INFINITY;

  constructor(private readonly clock: Clock) {}

  now(): number {
    return this.clock.now();
  }

  setInterval(fn: () => void, ms: number): Timer {
    return this.clock.setInterval(fn, ms);
  }

  setTimeout(fn: () => void, ms: number): Timer {
    const now = this.clock.now();
    return this.setTimeoutAt(fn, ms > 0 ? now + ms : now);
  }

  /** A timer due at clock time `at` (for callers that hold the time already: no clock read). */
  setTimeoutAt(fn: () => void, at: number): Timer {
    const entry = new TimerEntry(at, this.seq++, fn, null, this);
    this.heap.push(entry);
    this.live++;
    if (entry.at < this.armedAt) this.arm();
    return entry;
  }

  /** @internal An entry was cancelled (TimerEntry.cancel). */
  cancelled(): void {
    this.live--;
    if (this.heap.size > MIN_COMPACT && this.live * 2 < this.heap.size) this.heap.retain((e) => !e.done);
  }

  /** Timers set and neither fired nor cancelled. */
  get size(): number {
    return this.live;
  }

  private arm(): void {
    this.armed?.cancel();
    this.armed = null;
    this.armedAt = Number.POSITIVE_INFINITY;
    while (this.heap.peek()?.done) this.heap.pop();
    const top = this.heap.peek();
    if (!top) return;
    this.armedAt = top.at;
    this.armed = this.clock.setTimeout(() => this.fire(), top.at - this.clock.now());
  }

  private fire(): void {
    // Due: what this timer was armed for (a real timer may wake a fraction of a ms early) and anything older.
    const due = Math.max(this.clock.now(), this.armedAt);
    this.armed = null;
    this.armedAt = Number.POSITIVE_INFINITY;
    let failure: { err: unknown } | null = null;
    for (let next = this.heap.peek(); next !== undefined && next.at <= due; next = this.heap.peek()) {
      const entry = this.heap.pop()!;
      if (entry.done) continue;
      entry.done = true;
      this.live--;
      try {
        entry.fn();
      } catch (err) {
        failure ??= { err };
      }
    }
    this.arm();
    if (failure) throw failure.err; // as a throwing timer callback would
  }
}
