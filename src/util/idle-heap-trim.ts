import { getHeapSpaceStatistics, setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { performance, type EventLoopUtilization } from "node:perf_hooks";
import type { Clock, Timer } from "./clock.js";

/** V8's collector, as `--expose-gc` exposes it. */
export type GcFunction = (options?: { type?: "minor" | "major"; execution?: "sync" | "async" }) => void;

/** What the trim decides on, in bytes. */
export interface HeapFigures {
  /** Young generation (both semi-spaces) committed. */
  youngCommitted: number;
  /** Old generation committed. */
  oldCommitted: number;
  /** Old generation in use (live objects and garbage not collected yet). */
  oldUsed: number;
}

export interface IdleHeapTrimOptions {
  clock: Clock;
  /** Default: V8's collector (null: trimming is off). */
  gc?: GcFunction | null;
  heap?: () => HeapFigures;
  /** Share of the time since the previous call the event loop was busy (0..1). */
  utilization?: () => number;
  intervalMs?: number;
}

/** How often the node looks whether it went quiet. */
const CHECK_INTERVAL_MS = 10_000;
/** Busy less than this share of an interval: quiet (an idle node's gossip and timers use ~1 %). */
const QUIET_UTILIZATION = 0.05;
/** V8 starts the young generation at 1 MiB per semi-space; past this it has grown and can be given back. */
const YOUNG_TRIM_BYTES = 4 * 1024 * 1024;
/**
 * Old generation in use (live and dead objects) this far past what was live after the last full
 * trim: worth a full collection. A quiet node promotes little, so this fires once after a busy
 * spell or a first use (the first /openapi.json leaves ~3 MiB of garbage there on Node 24, which
 * V8 by itself would keep until its next full collection), not every interval.
 */
const OLD_SLACK_BYTES = 2 * 1024 * 1024;

/**
 * Gives memory back once the node goes quiet. Under load V8 grows the young generation
 * (16 MiB per semi-space on Node 20, 32 MiB on Node 24) and the old generation fills with
 * garbage, and it shrinks them only at a collection that sees a low allocation rate. A quiet
 * node allocates so little that its next collection may be an hour away, so without help it
 * would hold 30–100 MiB more than it needs for as long as it stays quiet. Every interval (on
 * the Clock) the trim looks at how busy the event loop was; when it was quiet and the young
 * generation has grown, or the old generation holds much more than was live after the
 * previous trim, it runs one collection: a full one when the old generation is worth it, then a
 * young one, which lets V8 shrink the young generation (Node 24 returns its pages a few
 * seconds later). A quiet node pays a few milliseconds once; a busy node is never touched.
 */
export class IdleHeapTrim {
  private readonly clock: Clock;
  private readonly gc: GcFunction | null;
  private readonly heap: () => HeapFigures;
  private readonly utilization: () => number;
  private readonly intervalMs: number;
  private timer: Timer | null = null;
  /** Old generation in use right after the last full collection (null: none yet). */
  private settledOld: number | null = null;
  private trims = 0;

  constructor(options: IdleHeapTrimOptions) {
    this.clock = options.clock;
    this.gc = options.gc === undefined ? exposedGc() : options.gc;
    this.heap = options.heap ?? v8HeapFigures;
    this.utilization = options.utilization ?? eventLoopUtilization();
    this.intervalMs = options.intervalMs ?? CHECK_INTERVAL_MS;
  }

  start(): void {
    if (!this.gc || this.timer) return;
    this.utilization(); // the first interval starts now
    this.timer = this.clock.setInterval(() => this.check(), this.intervalMs);
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = null;
  }

  /** Collections run so far. */
  get count(): number {
    return this.trims;
  }

  /** One look: collects if the node was quiet and there is memory to give back. */
  check(): void {
    const gc = this.gc;
    if (!gc || this.utilization() >= QUIET_UTILIZATION) return;
    const before = this.heap();
    const full = this.settledOld === null || before.oldUsed > this.settledOld + OLD_SLACK_BYTES;
    if (!full && before.youngCommitted <= YOUNG_TRIM_BYTES) return;
    if (full) {
      gc({ type: "major" });
      this.settledOld = this.heap().oldUsed;
    }
    gc({ type: "minor" });
    this.trims++;
  }
}

function v8HeapFigures(): HeapFigures {
  const figures: HeapFigures = { youngCommitted: 0, oldCommitted: 0, oldUsed: 0 };
  for (const space of getHeapSpaceStatistics()) {
    if (space.space_name === "new_space") figures.youngCommitted = space.physical_space_size;
    else if (space.space_name === "old_space") {
      figures.oldCommitted = space.physical_space_size;
      figures.oldUsed = space.space_used_size;
    }
  }
  return figures;
}

function eventLoopUtilization(): () => number {
  let last: EventLoopUtilization | undefined;
  return () => {
    const now = performance.eventLoopUtilization();
    const share = last ? performance.eventLoopUtilization(now, last).utilization : 1;
    last = now;
    return share;
  };
}

/**
 * V8's collector without starting Node with --expose-gc: the flag is turned on just long
 * enough to read `gc` from a fresh context, then off again, so no other context (services'
 * worker threads included) sees a `gc` global. Null if this V8 refuses.
 */
function exposedGc(): GcFunction | null {
  const existing = (globalThis as { gc?: unknown }).gc;
  if (typeof existing === "function") return existing as GcFunction;
  try {
    setFlagsFromString("--expose-gc");
    const gc: unknown = runInNewContext("gc");
    return typeof gc === "function" ? (gc as GcFunction) : null;
  } catch {
    return null;
  } finally {
    setFlagsFromString("--no-expose-gc");
  }
}
