import { getHeapSpaceStatistics, setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import type { Clock, Timer } from "./clock.js";

/** V8's collector, as `--expose-gc` exposes it. */
export type GcFunction = (options?: { type?: "minor" | "major"; execution?: "sync" | "async"; flavor?: "regular" | "last-resort" }) => void;

/** What the trim decides on, in bytes. */
export interface HeapFigures {
  /** Young generation (both semi-spaces) committed. */
  youngCommitted: number;
  /** Old generation committed. */
  oldCommitted: number;
  /** Old generation in use (live objects and garbage not collected yet). */
  oldUsed: number;
}

/** One collection the trim ran, as logged. */
export interface TrimReport {
  full: boolean;
  /** CPU the process used in the interval before, as a share of one core. */
  cpuShare: number;
  before: HeapFigures;
  after: HeapFigures;
}

export interface IdleHeapTrimOptions {
  clock: Clock;
  /** Default: V8's collector (null: trimming is off). */
  gc?: GcFunction | null;
  heap?: () => HeapFigures;
  /** CPU time the process used so far, in milliseconds (default: process.cpuUsage()). */
  cpuMs?: () => number;
  /** Told of every collection run (the node logs it). */
  onTrim?: (report: TrimReport) => void;
  /**
   * Full collections reduce memory (V8's "last resort": compacts, flushes old bytecode and gives
   * freed pages back to the system at once). Default: on V8 ≥ 13 (Node 24), whose collector
   * reads options and pools freed pages until its own memory reducer runs, which after minutes
   * of load it may not do for a long time; older V8 reads no options (a young collection for
   * any object) and gives pages back after a plain full collection.
   */
  memoryReducing?: boolean;
  intervalMs?: number;
}

/** How often the node looks whether it went quiet. */
const CHECK_INTERVAL_MS = 10_000;
/**
 * Used less CPU than this share of one core over an interval: quiet (an idle node's gossip and
 * timers use ~1 %). CPU time, not event-loop utilisation: the latter counts wall-clock time
 * inside callbacks, which on a crowded machine (a process waiting for a core mid-callback)
 * makes an idle node look 5-20 % busy, and the trim then never ran.
 */
const QUIET_CPU_SHARE = 0.05;
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
 * Old generation committed this far past its use after a full trim: pages left sparse by the
 * garbage. A full collection only sweeps them; the next one moves their survivors out and frees
 * them (Node 20 kept 10–14 MiB of such pages after load otherwise), so one follow-up runs.
 */
const SPARSE_BYTES = 4 * 1024 * 1024;

/**
 * Gives memory back once the node goes quiet. Under load V8 grows the young generation
 * (16 MiB per semi-space on Node 20, 32 MiB on Node 24) and the old generation fills with
 * garbage, and it shrinks them only at a collection that sees a low allocation rate. A quiet
 * node allocates so little that its next collection may be an hour away, so without help it
 * would hold 30–100 MiB more than it needs for as long as it stays quiet. Every interval (on
 * the Clock) the trim looks at how much CPU the process used; when it was quiet and the young
 * generation has grown, or the old generation holds much more than was live after the
 * previous trim, it runs one collection: a full one when the old generation is worth it (and
 * one more at the next quiet look if that left sparse pages), then a young one, which lets V8
 * shrink the young generation. A quiet node pays a few milliseconds once (a memory-reducing
 * collection on Node 24: 80–220 ms once after a busy spell, as V8's own memory reducer would
 * take); a busy node is never touched.
 */
export class IdleHeapTrim {
  private readonly clock: Clock;
  private readonly gc: GcFunction | null;
  private readonly heap: () => HeapFigures;
  private readonly cpuMs: () => number;
  private readonly onTrim: (report: TrimReport) => void;
  private readonly memoryReducing: boolean;
  private readonly intervalMs: number;
  /** Where the current interval began: clock time and CPU time, ms (null: not started). */
  private mark: { at: number; cpu: number } | null = null;
  private timer: Timer | null = null;
  /** Old generation in use right after the last full collection (null: none yet). */
  private settledOld: number | null = null;
  /** The last collection was full: the next quiet look may run one more to compact. */
  private followUp = false;
  private trims = 0;

  constructor(options: IdleHeapTrimOptions) {
    this.clock = options.clock;
    this.gc = options.gc === undefined ? exposedGc() : options.gc;
    this.heap = options.heap ?? v8HeapFigures;
    this.cpuMs = options.cpuMs ?? processCpuMs;
    this.onTrim = options.onTrim ?? (() => {});
    this.memoryReducing = options.memoryReducing ?? Number(process.versions.v8.split(".")[0]) >= 13;
    this.intervalMs = options.intervalMs ?? CHECK_INTERVAL_MS;
  }

  start(): void {
    if (!this.gc || this.timer) return;
    this.cpuShare(); // the first interval starts now
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
    const cpuShare = this.cpuShare();
    if (!gc || cpuShare >= QUIET_CPU_SHARE) return;
    const before = this.heap();
    const sparse = this.followUp && before.oldCommitted > before.oldUsed + SPARSE_BYTES;
    this.followUp = false;
    const full = this.settledOld === null || before.oldUsed > this.settledOld + OLD_SLACK_BYTES || sparse;
    if (!full && before.youngCommitted <= YOUNG_TRIM_BYTES) return;
    if (full) {
      // Without options on older V8: Node 20's does not read `{ type: "major" }` and gave a
      // young collection for it.
      if (this.memoryReducing) gc({ type: "major", flavor: "last-resort" });
      else gc();
      this.settledOld = this.heap().oldUsed;
      this.followUp = !sparse;
    }
    gc({ type: "minor" });
    this.trims++;
    // The collection's own CPU is not counted against the next interval.
    this.mark = { at: this.clock.now(), cpu: this.cpuMs() };
    this.onTrim({ full, cpuShare, before, after: this.heap() });
  }

  /** CPU used since the previous call as a share of one core (1 the first time: not known). */
  private cpuShare(): number {
    const now = { at: this.clock.now(), cpu: this.cpuMs() };
    const last = this.mark;
    this.mark = now;
    if (!last || now.at <= last.at) return 1;
    return (now.cpu - last.cpu) / (now.at - last.at);
  }
}

/** A trim as log fields: MiB with one decimal, the quiet interval's CPU share in per cent. */
export function trimLogFields(report: TrimReport): Record<string, number | boolean> {
  const mib = (bytes: number) => Math.round(bytes / 104_857.6) / 10;
  return {
    full: report.full,
    cpu_percent: Math.round(report.cpuShare * 1000) / 10,
    young_mib: mib(report.before.youngCommitted),
    old_used_mib: mib(report.before.oldUsed),
    old_committed_mib: mib(report.before.oldCommitted),
    after_young_mib: mib(report.after.youngCommitted),
    after_old_used_mib: mib(report.after.oldUsed),
    after_old_committed_mib: mib(report.after.oldCommitted),
  };
}

function processCpuMs(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
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
