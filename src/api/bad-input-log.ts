import { LruMap } from "../util/lru-map.js";
import type { Clock, Timer } from "../util/clock.js";

/** One summary line per source per interval. */
const DEFAULT_INTERVAL_MS = 10_000;
/** Sources remembered at once; the least recently seen one is summarised and forgotten first. */
const DEFAULT_MAX_SOURCES = 10_000;

interface SourceWindow {
  startedAt: number;
  /** Occurrences after the first one of the window, by kind. */
  repeats: Map<string, number>;
}

/** What it writes to: a pino logger, or any logger with warn(obj, msg). */
export interface WarnSink {
  warn(obj: object, msg: string): void;
}

export interface BadInputLogOptions {
  logger: WarnSink;
  clock: Clock;
  intervalMs?: number;
  maxSources?: number;
  /** First line of a source's interval (default "bad request"); the summary line adds "(aggregated)". */
  message?: string;
}

/**
 * Warnings about bad input from clients (malformed requests, wrong keys, refused tokens,
 * rate limits) without letting a flood of them flood the log: the first occurrence from a
 * source is logged at once, with its detail; the rest of that source's interval is counted,
 * and one line with the counts closes the interval. Never a stack trace: these are expected.
 */
export class BadInputLog {
  private readonly logger: WarnSink;
  private readonly message: string;
  private readonly clock: Clock;
  private readonly intervalMs: number;
  private readonly sources: LruMap<string, SourceWindow>;
  private timer: Timer | null = null;

  constructor(options: BadInputLogOptions) {
    this.logger = options.logger;
    this.message = options.message ?? "bad request";
    this.clock = options.clock;
    this.intervalMs = options.intervalMs ?? DEFAULT_INTERVAL_MS;
    this.sources = new LruMap<string, SourceWindow>(options.maxSources ?? DEFAULT_MAX_SOURCES, (window, source) => this.summarise(source, window));
  }

  /** Starts closing intervals on time (summaries are written even when the source goes quiet). */
  start(): void {
    this.timer ??= this.clock.setInterval(() => this.closeIntervals(false), this.intervalMs);
  }

  /** Writes what is still counted and stops the timer. */
  stop(): void {
    this.timer?.cancel();
    this.timer = null;
    this.closeIntervals(true);
  }

  note(source: string, kind: string, detail: Record<string, unknown> = {}): void {
    const now = this.clock.now();
    const window = this.sources.get(source);
    if (window && now - window.startedAt < this.intervalMs) {
      window.repeats.set(kind, (window.repeats.get(kind) ?? 0) + 1);
      return;
    }
    if (window) this.sources.delete(source); // summarised by dispose
    this.sources.set(source, { startedAt: now, repeats: new Map() });
    this.logger.warn({ source, kind, ...detail }, this.message);
  }

  private closeIntervals(all: boolean): void {
    const now = this.clock.now();
    for (const [source, window] of this.sources.entries()) {
      if (all || now - window.startedAt >= this.intervalMs) this.sources.delete(source);
    }
  }

  private summarise(source: string, window: SourceWindow): void {
    if (window.repeats.size === 0) return;
    let count = 0;
    for (const n of window.repeats.values()) count += n;
    this.logger.warn(
      { source, count, kinds: Object.fromEntries(window.repeats), interval_s: this.intervalMs / 1000 },
      this.message === "bad request" ? "repeated bad requests from this source (aggregated)" : `${this.message} (aggregated)`,
    );
  }
}
