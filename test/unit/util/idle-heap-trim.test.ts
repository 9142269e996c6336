import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { describe, expect, it } from "vitest";
import { FakeClock } from "../../../src/util/clock.js";
import { IdleHeapTrim, trimLogFields, type GcFunction, type HeapFigures, type TrimReport } from "../../../src/util/idle-heap-trim.js";

const MiB = 1024 * 1024;

function setup(initial: { busy: number; heap: HeapFigures }) {
  const clock = new FakeClock();
  const state = { ...initial, heap: { ...initial.heap } };
  const calls: string[] = [];
  const reports: TrimReport[] = [];
  // CPU time the process used: grows by `busy` of one core as the fake clock moves.
  let cpu = 0;
  let cpuAt = clock.now();
  const cpuMs = () => {
    cpu += (clock.now() - cpuAt) * state.busy;
    cpuAt = clock.now();
    return cpu;
  };
  const gc: GcFunction = (options) => {
    calls.push(options?.type ?? "full");
    // A full collection leaves what is live; a young one shrinks the young generation.
    if (options === undefined) state.heap = { ...state.heap, oldCommitted: 20 * MiB, oldUsed: 18 * MiB };
    if (options?.type === "minor") state.heap = { ...state.heap, youngCommitted: 2 * MiB };
  };
  const trim = new IdleHeapTrim({ clock, gc, heap: () => state.heap, cpuMs, onTrim: (r) => reports.push(r), memoryReducing: false, intervalMs: 10_000 });
  trim.start();
  return { clock, state, calls, reports, trim };
}

describe("IdleHeapTrim", () => {
  it("collects once the node is quiet, full the first time, and not again while nothing grew", () => {
    const { clock, state, calls, reports, trim } = setup({ busy: 0.4, heap: { youngCommitted: 32 * MiB, oldCommitted: 40 * MiB, oldUsed: 39 * MiB } });
    clock.advance(30_000);
    expect(calls).toEqual([]); // busy: never touched
    state.busy = 0.06; // just over the quiet share
    clock.advance(10_000);
    expect(calls).toEqual([]);
    state.busy = 0.01;
    clock.advance(10_000);
    expect(calls).toEqual(["full", "minor"]);
    clock.advance(60_000);
    expect(calls).toEqual(["full", "minor"]); // quiet, but nothing to give back
    expect(trim.count).toBe(1);
    expect(reports).toHaveLength(1);
    expect(reports[0]!.full).toBe(true);
    expect(reports[0]!.cpuShare).toBeCloseTo(0.01, 5);
    expect(trimLogFields(reports[0]!)).toMatchObject({ full: true, cpu_percent: 1, young_mib: 32, old_used_mib: 39, after_young_mib: 2, after_old_used_mib: 18 });
    trim.stop();
  });

  it("after a busy spell: a young collection when only the young generation grew, a full one when the old one's use grew past the slack", () => {
    const { clock, state, calls, trim } = setup({ busy: 0.01, heap: { youngCommitted: 2 * MiB, oldCommitted: 30 * MiB, oldUsed: 29 * MiB } });
    clock.advance(10_000);
    expect(calls).toEqual(["full", "minor"]); // first look: settles the old generation
    calls.length = 0;
    state.heap = { ...state.heap, youngCommitted: 32 * MiB, oldCommitted: 23 * MiB, oldUsed: 19.5 * MiB }; // in use < 18 + 2 MiB, pages not sparse
    clock.advance(10_000);
    expect(calls).toEqual(["minor"]);
    calls.length = 0;
    state.heap = { ...state.heap, youngCommitted: 2 * MiB, oldCommitted: 24 * MiB, oldUsed: 20.5 * MiB }; // garbage in committed pages
    state.busy = 0.9;
    clock.advance(10_000);
    expect(calls).toEqual([]);
    state.busy = 0.02;
    clock.advance(10_000);
    expect(calls).toEqual(["full", "minor"]);
    trim.stop();
  });

  it("runs one more full collection when the first left the old generation's pages sparse, and no more", () => {
    const clock = new FakeClock();
    let heap: HeapFigures = { youngCommitted: 2 * MiB, oldCommitted: 60 * MiB, oldUsed: 58 * MiB };
    const calls: string[] = [];
    let fulls = 0;
    const gc: GcFunction = (options) => {
      calls.push(options?.type ?? "full");
      if (options !== undefined) return;
      // The first full collection sweeps (use drops, pages stay); the second compacts, partly.
      fulls++;
      heap = fulls === 1 ? { ...heap, oldUsed: 18 * MiB } : { ...heap, oldUsed: 18 * MiB, oldCommitted: 30 * MiB };
    };
    const trim = new IdleHeapTrim({ clock, gc, heap: () => heap, cpuMs: () => 0, memoryReducing: false });
    trim.start();
    clock.advance(10_000);
    expect(calls).toEqual(["full", "minor"]);
    clock.advance(10_000);
    expect(calls).toEqual(["full", "minor", "full", "minor"]);
    clock.advance(60_000); // still 12 MiB sparse: not collected again while nothing grows
    expect(calls).toHaveLength(4);
    trim.stop();
  });

  it("asks for a memory-reducing full collection where V8 reads options, a plain one elsewhere", () => {
    for (const memoryReducing of [true, false]) {
      const clock = new FakeClock();
      const calls: unknown[] = [];
      const gc: GcFunction = (options) => void calls.push(options ?? "plain");
      const trim = new IdleHeapTrim({ clock, gc, heap: () => ({ youngCommitted: 32 * MiB, oldCommitted: 40 * MiB, oldUsed: 39 * MiB }), cpuMs: () => 0, memoryReducing });
      trim.start();
      clock.advance(10_000);
      trim.stop();
      expect(calls).toEqual([memoryReducing ? { type: "major", flavor: "last-resort" } : "plain", { type: "minor" }]);
    }
  });

  it("without a collector it does nothing and sets no timer", () => {
    const clock = new FakeClock();
    const trim = new IdleHeapTrim({ clock, gc: null, heap: () => ({ youngCommitted: 64 * MiB, oldCommitted: 0, oldUsed: 0 }), cpuMs: () => 0 });
    trim.start();
    expect(clock.pending).toBe(0);
    trim.check();
    expect(trim.count).toBe(0);
  });

  it("reaches V8's collector without --expose-gc and leaves no gc global behind", () => {
    const clock = new FakeClock();
    const trim = new IdleHeapTrim({ clock, cpuMs: () => 0 });
    const hadGc = typeof (globalThis as { gc?: unknown }).gc === "function";
    trim.start();
    clock.advance(10_000);
    trim.stop();
    expect(trim.count).toBe(1);
    expect(typeof (globalThis as { gc?: unknown }).gc === "function").toBe(hadGc);
  });

  it("frees dead objects of the old generation on this Node version (a full collection, not a young one)", () => {
    // Put ~10 MiB of objects in the old generation (two young collections promote them), then drop them.
    setFlagsFromString("--expose-gc");
    const youngGc = runInNewContext("gc") as GcFunction;
    setFlagsFromString("--no-expose-gc");
    let garbage: Array<{ i: number; s: string }> | null = Array.from({ length: 150_000 }, (_, i) => ({ i, s: `item ${i}` }));
    youngGc({ type: "minor" });
    youngGc({ type: "minor" });
    expect(garbage.length).toBe(150_000);
    garbage = null;
    const clock = new FakeClock();
    const reports: TrimReport[] = [];
    const trim = new IdleHeapTrim({ clock, cpuMs: () => 0, onTrim: (r) => reports.push(r) });
    trim.start();
    clock.advance(10_000);
    trim.stop();
    expect(reports).toHaveLength(1);
    expect(reports[0]!.full).toBe(true);
    expect(reports[0]!.before.oldUsed - reports[0]!.after.oldUsed).toBeGreaterThan(5 * MiB);
  });
});
