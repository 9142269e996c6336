import type { Clock, Timer } from "../../util/clock.js";

/**
 * Lifeguard's dynamic suspicion timeout: starts at max and shrinks towards min as
 * independent members confirm the suspicion (log scale, k confirmations reach min).
 */
export function remainingSuspicionTime(confirmations: number, k: number, elapsedMs: number, minMs: number, maxMs: number): number {
  const frac = k > 0 ? Math.log(confirmations + 1) / Math.log(k + 1) : 1;
  const raw = maxMs - frac * (maxMs - minMs);
  // memberlist floors to milliseconds before the clamp.
  const timeout = Math.max(Math.floor(raw), minMs);
  return timeout - elapsedMs;
}

export class Suspicion {
  private confirmations = 0;
  private readonly confirmedBy = new Set<string>();
  private readonly start: number;
  private timer: Timer | null;
  private fired = false;

  /**
   * @param from the first accuser (does not count as a confirmation)
   * @param k confirmations needed to reach minMs (0: fire at minMs)
   * @param onTimeout called once with the number of confirmations seen
   */
  constructor(
    private readonly clock: Clock,
    from: string,
    private readonly k: number,
    private readonly minMs: number,
    private readonly maxMs: number,
    private readonly onTimeout: (confirmations: number) => void,
  ) {
    this.confirmedBy.add(from);
    this.start = clock.now();
    const initial = k < 1 ? minMs : maxMs;
    this.timer = clock.setTimeout(() => this.fire(), initial);
  }

  /** Counts an independent confirmation; false for duplicates or once k are in. */
  confirm(from: string): boolean {
    if (this.fired || this.confirmations >= this.k) return false;
    if (this.confirmedBy.has(from)) return false;
    this.confirmedBy.add(from);
    this.confirmations++;
    const elapsed = this.clock.now() - this.start;
    const remaining = remainingSuspicionTime(this.confirmations, this.k, elapsed, this.minMs, this.maxMs);
    this.timer?.cancel();
    // Overdue: fire on the next turn, never from inside packet handling, so whatever else
    // has already arrived (after a stall, the refutation is often right behind) counts first.
    this.timer = this.clock.setTimeout(() => this.fire(), Math.max(0, remaining));
    return true;
  }

  cancel(): void {
    this.timer?.cancel();
    this.timer = null;
    this.fired = true;
  }

  private fire(): void {
    if (this.fired) return;
    this.fired = true;
    this.timer = null;
    this.onTimeout(this.confirmations);
  }
}
