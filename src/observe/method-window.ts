import type { Clock } from "../util/clock.js";
import { BIN_COUNT, binOf, quantileMs, round, toSparse, type SparseBins } from "./latency-bins.js";

/** Length of the sliding window, in one-second slots. */
export const WINDOW_S = 60;

/** A method's rates and latency percentiles over the window (one node's, or merged over the cluster). */
export interface MethodRow {
  service: string;
  method: string;
  calls_per_s: number;
  errors_per_s: number;
  p50_ms: number;
  p99_ms: number;
}

/** One method's figures over the last WINDOW_S seconds, as this node saw them. */
export interface MethodFigures extends MethodRow {
  /** Totals since the node started (not windowed): clients derive instant rates from them. */
  calls: number;
  errors: number;
  /** Calls in the window, with their latency histogram, so nodes' figures can be merged. */
  window_calls: number;
  window_errors: number;
  bins: SparseBins;
}

/**
 * Calls of one method in one-second slots: count, errors and a latency histogram per slot.
 * Recording is a few array writes; a slot is cleared when its second comes round again,
 * so calls older than the window drop out without any timer.
 */
export class MethodWindow {
  private readonly slotSecond = new Float64Array(WINDOW_S).fill(-1);
  private readonly slotCalls = new Uint32Array(WINDOW_S);
  private readonly slotErrors = new Uint32Array(WINDOW_S);
  private readonly slotBins = new Uint32Array(WINDOW_S * BIN_COUNT);
  totalCalls = 0;
  totalErrors = 0;

  constructor(
    readonly service: string,
    readonly method: string,
  ) {}

  record(nowMs: number, durationMs: number, failed: boolean): void {
    const second = Math.floor(nowMs / 1000);
    const slot = second % WINDOW_S;
    if (this.slotSecond[slot] !== second) this.clearSlot(slot, second);
    this.slotCalls[slot]! += 1;
    this.slotBins[slot * BIN_COUNT + binOf(durationMs)]! += 1;
    this.totalCalls += 1;
    if (failed) {
      this.slotErrors[slot]! += 1;
      this.totalErrors += 1;
    }
  }

  /** Figures over the slots of the last WINDOW_S seconds; `spanS` is how many seconds that covers. */
  figures(nowMs: number, spanS: number): MethodFigures {
    const now = Math.floor(nowMs / 1000);
    const bins = new Float64Array(BIN_COUNT);
    let calls = 0;
    let errors = 0;
    for (let slot = 0; slot < WINDOW_S; slot++) {
      const second = this.slotSecond[slot]!;
      if (second < 0 || second > now || now - second >= WINDOW_S) continue;
      calls += this.slotCalls[slot]!;
      errors += this.slotErrors[slot]!;
      const base = slot * BIN_COUNT;
      for (let b = 0; b < BIN_COUNT; b++) bins[b]! += this.slotBins[base + b]!;
    }
    return {
      service: this.service,
      method: this.method,
      calls_per_s: rate(calls, spanS),
      errors_per_s: rate(errors, spanS),
      p50_ms: quantileMs(bins, calls, 0.5),
      p99_ms: quantileMs(bins, calls, 0.99),
      calls: this.totalCalls,
      errors: this.totalErrors,
      window_calls: calls,
      window_errors: errors,
      bins: toSparse(bins),
    };
  }

  private clearSlot(slot: number, second: number): void {
    this.slotSecond[slot] = second;
    this.slotCalls[slot] = 0;
    this.slotErrors[slot] = 0;
    this.slotBins.fill(0, slot * BIN_COUNT, (slot + 1) * BIN_COUNT);
  }
}

export function rate(count: number, spanS: number): number {
  return spanS > 0 ? round(count / spanS) : 0;
}

/** Every method's window on this node, created on a method's first call. */
export class MethodWindows {
  private readonly windows = new Map<string, Map<string, MethodWindow>>();
  private readonly startedAt: number;

  constructor(private readonly clock: Clock) {
    this.startedAt = clock.now();
  }

  /** The window to record into; callers keep it per (service, method) to skip the lookups. */
  window(service: string, method: string): MethodWindow {
    let byMethod = this.windows.get(service);
    if (!byMethod) this.windows.set(service, (byMethod = new Map()));
    let w = byMethod.get(method);
    if (!w) byMethod.set(method, (w = new MethodWindow(service, method)));
    return w;
  }

  record(window: MethodWindow, durationMs: number, failed: boolean): void {
    window.record(this.clock.now(), durationMs, failed);
  }

  /** Seconds the window covers: WINDOW_S, or less on a node that started more recently. */
  spanS(): number {
    return Math.min(WINDOW_S, Math.max(1, (this.clock.now() - this.startedAt) / 1000));
  }

  figures(): MethodFigures[] {
    const now = this.clock.now();
    const span = this.spanS();
    const out: MethodFigures[] = [];
    for (const byMethod of this.windows.values()) for (const w of byMethod.values()) out.push(w.figures(now, span));
    return out.sort((a, b) => a.service.localeCompare(b.service) || a.method.localeCompare(b.method));
  }
}
