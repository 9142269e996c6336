import { round } from "./latency-bins.js";

export interface ProcessFigures {
  /** CPU time used over the last sampling interval, as % of one core. */
  cpu_pct: number;
  rss_bytes: number;
  heap_used_bytes: number;
  loop_lag_ms: number;
  inflight: number;
  uptime_s: number;
}

export interface ProcessSources {
  inflight(): number;
  loopLagMs(): number;
  /** Wall-clock ms when the node started. */
  startedAt: number;
}

/** CPU is measured between two samples at least this far apart (shorter gaps reuse the last figure). */
const MIN_CPU_INTERVAL_MS = 500;

/** The process's own figures, sampled when asked (no timer of its own). */
export class ProcessSampler {
  private lastCpu = process.cpuUsage();
  private lastAt = performance.now();
  private lastPct = 0;

  constructor(private readonly sources: ProcessSources) {}

  sample(): ProcessFigures {
    const memory = process.memoryUsage();
    return {
      cpu_pct: this.cpuPct(),
      rss_bytes: memory.rss,
      heap_used_bytes: memory.heapUsed,
      loop_lag_ms: round(this.sources.loopLagMs()),
      inflight: this.sources.inflight(),
      uptime_s: Math.round((Date.now() - this.sources.startedAt) / 1000),
    };
  }

  private cpuPct(): number {
    const now = performance.now();
    const elapsedMs = now - this.lastAt;
    if (elapsedMs >= MIN_CPU_INTERVAL_MS) {
      const used = process.cpuUsage(this.lastCpu);
      this.lastPct = Math.round(((used.user + used.system) / 1000 / elapsedMs) * 1000) / 10;
      this.lastCpu = process.cpuUsage();
      this.lastAt = now;
    }
    return this.lastPct;
  }
}
