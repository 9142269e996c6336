import { describe, expect, it } from "vitest";
import { FakeClock } from "../../../src/util/clock.js";
import { IdleHeapTrim, type GcFunction, type HeapFigures } from "../../../src/util/idle-heap-trim.js";

const MiB = 1024 * 1024;

function setup(initial: { busy: number; heap: HeapFigures }) {
  const clock = new FakeClock();
  const state = { ...initial, heap: { ...initial.heap } };
  const calls: string[] = [];
  const gc: GcFunction = (options) => {
    calls.push(options?.type ?? "full");
    // A full collection leaves what is live; a young one shrinks the young generation.
    if (options?.type === "major") state.heap = { ...state.heap, oldCommitted: 20 * MiB, oldUsed: 18 * MiB };
    if (options?.type === "minor") state.heap = { ...state.heap, youngCommitted: 2 * MiB };
  };
  const trim = new IdleHeapTrim({ clock, gc, heap: () => state.heap, utilization: () => state.busy, intervalMs: 10_000 });
  trim.start();
  return { clock, state, calls, trim };
}

describe("IdleHeapTrim", () => {
  it("collects once the node is quiet, full the first time, and not again while nothing grew", () => {
    const { clock, state, calls, trim } = setup({ busy: 0.4, heap: { youngCommitted: 32 * MiB, oldCommitted: 40 * MiB, oldUsed: 39 * MiB } });
    clock.advance(30_000);
    expect(calls).toEqual([]); // busy: never touched
    state.busy = 0.01;
    clock.advance(10_000);
    expect(calls).toEqual(["major", "minor"]);
    clock.advance(60_000);
    expect(calls).toEqual(["major", "minor"]); // quiet, but nothing to give back
    expect(trim.count).toBe(1);
    trim.stop();
  });

  it("after a busy spell: a young collection when only the young generation grew, a full one when the old one's use grew past the slack", () => {
    const { clock, state, calls, trim } = setup({ busy: 0.01, heap: { youngCommitted: 2 * MiB, oldCommitted: 30 * MiB, oldUsed: 29 * MiB } });
    clock.advance(10_000);
    expect(calls).toEqual(["major", "minor"]); // first look: settles the old generation
    calls.length = 0;
    state.heap = { ...state.heap, youngCommitted: 32 * MiB, oldCommitted: 24 * MiB, oldUsed: 19.5 * MiB }; // in use < 18 + 2 MiB
    clock.advance(10_000);
    expect(calls).toEqual(["minor"]);
    calls.length = 0;
    state.heap = { ...state.heap, youngCommitted: 2 * MiB, oldCommitted: 24 * MiB, oldUsed: 20.5 * MiB }; // garbage in committed pages
    state.busy = 0.9;
    clock.advance(10_000);
    expect(calls).toEqual([]);
    state.busy = 0.02;
    clock.advance(10_000);
    expect(calls).toEqual(["major", "minor"]);
    trim.stop();
  });

  it("without a collector it does nothing and sets no timer", () => {
    const clock = new FakeClock();
    const trim = new IdleHeapTrim({ clock, gc: null, heap: () => ({ youngCommitted: 64 * MiB, oldCommitted: 0, oldUsed: 0 }), utilization: () => 0 });
    trim.start();
    expect(clock.pending).toBe(0);
    trim.check();
    expect(trim.count).toBe(0);
  });

  it("reaches V8's collector without --expose-gc and leaves no gc global behind", () => {
    const trim = new IdleHeapTrim({ clock: new FakeClock(), utilization: () => 0 });
    const hadGc = typeof (globalThis as { gc?: unknown }).gc === "function";
    trim.check();
    expect(trim.count).toBe(1);
    expect(typeof (globalThis as { gc?: unknown }).gc === "function").toBe(hadGc);
  });
});
