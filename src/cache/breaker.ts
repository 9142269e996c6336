/**
 * A small circuit breaker so that a dead or slow Redis costs callers nothing: after
 * `failureThreshold` consecutive failures it opens for `openMs` (every call is refused at
 * once), then lets one probe through (half-open); the probe's outcome closes or reopens it.
 */
import type { Clock } from "../util/clock.js";

export type BreakerState = "closed" | "open" | "half-open";

export interface BreakerOptions {
  failureThreshold?: number;
  openMs?: number;
}

export class CircuitBreaker {
  private readonly threshold: number;
  private readonly openMs: number;
  private failures = 0;
  private openedAt = 0;
  private opened = false;
  private probing = false;

  constructor(
    private readonly clock: Clock,
    options: BreakerOptions = {},
  ) {
    this.threshold = options.failureThreshold ?? 3;
    this.openMs = options.openMs ?? 2_000;
  }

  get state(): BreakerState {
    if (!this.opened) return "closed";
    return this.clock.now() - this.openedAt >= this.openMs ? "half-open" : "open";
  }

  /** True when a call may go out now; in half-open only one probe at a time. */
  tryAcquire(): boolean {
    const state = this.state;
    if (state === "closed") return true;
    if (state === "open" || this.probing) return false;
    this.probing = true;
    return true;
  }

  /** Returns true when this success closed an open breaker. */
  success(): boolean {
    const wasOpen = this.opened;
    this.failures = 0;
    this.opened = false;
    this.probing = false;
    return wasOpen;
  }

  /** Returns true when this failure opened (or reopened) the breaker. */
  failure(): boolean {
    this.probing = false;
    if (this.opened) {
      this.openedAt = this.clock.now();
      return true;
    }
    this.failures++;
    if (this.failures >= this.threshold) {
      this.opened = true;
      this.openedAt = this.clock.now();
      return true;
    }
    return false;
  }

  /** Forces it open, e.g. when the connection is known to be gone. */
  trip(): void {
    this.opened = true;
    this.probing = false;
    this.openedAt = this.clock.now();
  }

  reset(): void {
    this.success();
  }
}
