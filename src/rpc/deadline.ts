/**
 * A call's deadline: an absolute point on the injected clock, so every hop and every
 * retry reads the same budget (the deadline travels with every hop of a call).
 */
import type { Clock, Timer } from "../util/clock.js";
import { TimerQueue } from "../util/timer-queue.js";
import { P2PError } from "../errors.js";
import { withTimeout } from "../util/with-timeout.js";

/** The longest timer Node can arm (~24.8 days). */
export const MAX_DEADLINE_MS = 2 ** 31 - 1;

export class Deadline {
  private constructor(
    /** Clock time (ms) at which the call must be over. */
    readonly at: number,
    /** The budget the caller asked for, for messages. */
    readonly totalMs: number,
    private readonly clock: Clock,
  ) {}

  /**
   * `ms` is clamped to [0, MAX_DEADLINE_MS]; NaN counts as 0. Node fires a timer of more
   * than 2^31-1 ms after 1 ms, so an unclamped huge deadline would expire at once.
   * `now`: the clock's time, when the caller has just read it.
   */
  static after(ms: number, clock: Clock, now: number = clock.now()): Deadline {
    const total = ms > 0 ? Math.min(ms, MAX_DEADLINE_MS) : 0;
    return new Deadline(now + total, total, clock);
  }

  /** Milliseconds left, never negative. */
  remaining(): number {
    const left = this.at - this.clock.now();
    return left > 0 ? left : 0;
  }

  expired(): boolean {
    return this.clock.now() >= this.at;
  }

  /** The TIMEOUT error of this deadline (data.reason "deadline_exceeded"). */
  timeoutError(data?: Record<string, unknown>): P2PError {
    // Whole milliseconds: a budget left over from a previous hop is fractional on a monotonic clock.
    const ms = Math.ceil(this.totalMs);
    return new P2PError("TIMEOUT", `deadline of ${ms} ms exceeded`, {
      reason: "deadline_exceeded",
      timeout_ms: ms,
      ...data,
    });
  }
}

/**
 * Settles like `promise`, or rejects with the deadline's TIMEOUT when it passes first
 * (one timer on the injected clock, cancelled as soon as the promise settles).
 */
export function withDeadline<T>(promise: Promise<T>, deadline: Deadline, clock: Clock): Promise<T> {
  return withTimeout(promise, deadline.at - clock.now(), clock, () => deadline.timeoutError());
}

/** A timer due at clock time `at`: without reading the clock when `clock` is a TimerQueue. */
export function timerAt(clock: Clock, fn: () => void, at: number): Timer {
  return clock instanceof TimerQueue ? clock.setTimeoutAt(fn, at) : clock.setTimeout(fn, at - clock.now());
}
