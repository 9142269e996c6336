import { monitorEventLoopDelay, type IntervalHistogram } from "node:perf_hooks";

/**
 * Event-loop lag: how late a timer of period `resolutionMs` fires. The histogram records the
 * whole period, so the period is subtracted. Coarse periods keep idle nodes idle (each sample
 * wakes the loop).
 */
export class LoopLag {
  private readonly histogram: IntervalHistogram;

  constructor(private readonly resolutionMs: number) {
    this.histogram = monitorEventLoopDelay({ resolution: resolutionMs });
  }

  start(): void {
    this.histogram.enable();
  }

  stop(): void {
    this.histogram.disable();
  }

  reset(): void {
    this.histogram.reset();
  }

  meanMs(): number {
    return this.lag(this.histogram.mean);
  }

  percentileMs(p: number): number {
    return this.lag(this.histogram.percentile(p));
  }

  private lag(ns: number): number {
    return Number.isFinite(ns) ? Math.max(0, ns / 1e6 - this.resolutionMs) : 0;
  }
}
