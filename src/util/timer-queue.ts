import type { Clock, Timer } from "./clock.js";

/** A timer in the heap, and the handle its setter cancels it with (one object per timer). */
class Entry implements Timer {
  /** Cancelled or fired: popped without running when it comes up. */
  done = false;

  constructor(
    readonly at: number,
    readonly seq: number,
    readonly fn: () => void,
    private readonly queue: TimerQueue,
  ) {}

  cancel(): void {
    if (this.done) return;
    this.done = true;
    this.queue.cancelled();
  }
}

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
export class TimerQueue implements Clock {
  private heap: Entry[] = [];
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
    const entry = new Entry(at, this.seq++, fn, this);
    push(this.heap, entry);
    this.live++;
    if (entry.at < this.armedAt) this.arm();
    return entry;
  }

  /** @internal An entry was cancelled (Entry.cancel). */
  cancelled(): void {
    this.live--;
    if (this.heap.length > MIN_COMPACT && this.live * 2 < this.heap.length) this.compact();
  }

  /** Timers set and neither fired nor cancelled. */
  get size(): number {
    return this.live;
  }

  private arm(): void {
    this.armed?.cancel();
    this.armed = null;
    this.armedAt = Number.POSITIVE_INFINITY;
    while (this.heap.length > 0 && this.heap[0]!.done) pop(this.heap);
    const top = this.heap[0];
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
    while (this.heap.length > 0 && this.heap[0]!.at <= due) {
      const entry = pop(this.heap)!;
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

  private compact(): void {
    const kept = this.heap.filter((e) => !e.done);
    this.heap = [];
    for (const e of kept) push(this.heap, e);
  }
}

function before(a: Entry, b: Entry): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}

function push(heap: Entry[], entry: Entry): void {
  let i = heap.push(entry) - 1;
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (!before(entry, heap[parent]!)) break;
    heap[i] = heap[parent]!;
    i = parent;
  }
  heap[i] = entry;
}

function pop(heap: Entry[]): Entry | undefined {
  const top = heap[0];
  const last = heap.pop();
  if (heap.length === 0 || last === undefined) return top;
  let i = 0;
  for (;;) {
    const l = 2 * i + 1;
    if (l >= heap.length) break;
    const r = l + 1;
    const child = r < heap.length && before(heap[r]!, heap[l]!) ? r : l;
    if (!before(heap[child]!, last)) break;
    heap[i] = heap[child]!;
    i = child;
  }
  heap[i] = last;
  return top;
}
