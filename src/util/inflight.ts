import { systemClock, type Clock } from "./clock.js";
import { withTimeout } from "./with-timeout.js";

/** A call that answers its caller itself, and that cut() can answer first (see InflightTracker.begin). */
export interface Cuttable {
  cut(error: Error): void;
}

/**
 * Counts calls in progress; lets shutdown wait (bounded) until they are done, then cut the
 * ones still running so that they are answered (an error) instead of holding the process.
 */
export class InflightTracker {
  constructor(private readonly clock: Clock = systemClock) {}

  private count = 0;
  private waiters: (() => void)[] = [];
  /** Calls entered with begin() and not ended yet, for cut(). */
  private readonly open = new Set<Cuttable>();

  get size(): number {
    return this.count;
  }

  enter(): void {
    this.count += 1;
  }

  leave(): void {
    this.count -= 1;
    if (this.count === 0 && this.waiters.length > 0) {
      const waiters = this.waiters;
      this.waiters = [];
      for (const w of waiters) w();
    }
  }

  /**
   * Enters a call that answers its caller itself (the HTTP route, the peer link's responder):
   * no promise around the work. The caller calls end() when it answers; cut() answers it
   * through `call.cut` instead, after which end() returns false.
   */
  begin(call: Cuttable): void {
    this.enter();
    this.open.add(call);
  }

  /** The call answered: true when it was still in flight, false when cut() had answered it. */
  end(call: Cuttable): boolean {
    if (!this.open.delete(call)) return false;
    this.leave();
    return true;
  }

  /** Answers every tracked call still running with `error` (end of the shutdown grace). */
  cut(error: Error): void {
    const open = [...this.open];
    this.open.clear();
    for (const call of open) {
      this.leave();
      call.cut(error);
    }
  }

  /** Resolves true when idle, false if timeoutMs passed first. */
  idle(timeoutMs: number): Promise<boolean> {
    if (this.count === 0) return Promise.resolve(true);
    let waiter!: () => void;
    const idle = new Promise<boolean>((resolve) => {
      waiter = () => resolve(true);
      this.waiters.push(waiter);
    });
    return withTimeout(idle, timeoutMs, this.clock, () => false).catch(() => {
      this.waiters = this.waiters.filter((w) => w !== waiter);
      return false;
    });
  }
}
