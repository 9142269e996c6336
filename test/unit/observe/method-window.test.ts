import { describe, expect, it } from "vitest";
import { FakeClock } from "../../../src/util/clock.js";
import { MethodWindows, WINDOW_S } from "../../../src/observe/method-window.js";
import { binOf, binValueMs, quantileMs, BIN_COUNT } from "../../../src/observe/latency-bins.js";

describe("latency bins", () => {
  it("a value's bin represents it within the bins' resolution", () => {
    for (const ms of [0.05, 0.3, 1, 7.5, 42, 250, 1000, 30_000]) {
      const value = binValueMs(binOf(ms));
      expect(value / ms).toBeGreaterThan(0.85);
      expect(value / ms).toBeLessThan(1.15);
    }
    expect(binOf(0)).toBe(0);
    expect(binOf(Number.NaN)).toBe(0);
    expect(binOf(1e12)).toBe(BIN_COUNT - 1);
  });

  it("quantiles come from the cumulative counts", () => {
    const counts = new Float64Array(BIN_COUNT);
    counts[binOf(1)] = 98;
    counts[binOf(100)] = 2;
    expect(quantileMs(counts, 100, 0.5)).toBeCloseTo(binValueMs(binOf(1)), 3);
    expect(quantileMs(counts, 100, 0.99)).toBeCloseTo(binValueMs(binOf(100)), 3);
    expect(quantileMs(counts, 0, 0.5)).toBe(0);
  });
});

describe("per-method sliding window", () => {
  it("reports calls/s, errors/s and percentiles of the last minute, and old calls drop out", () => {
    const clock = new FakeClock(0);
    const windows = new MethodWindows(clock);
    const w = windows.window("svc", "m");
    clock.advance(WINDOW_S * 1000); // a node that has run a full minute
    for (let i = 0; i < 100; i++) windows.record(w, 2, false);
    for (let i = 0; i < 20; i++) windows.record(w, 400, true);
    let [f] = windows.figures();
    expect(f).toMatchObject({ service: "svc", method: "m", calls: 120, errors: 20, window_calls: 120, window_errors: 20 });
    expect(f!.calls_per_s).toBeCloseTo(120 / WINDOW_S, 2);
    expect(f!.errors_per_s).toBeCloseTo(20 / WINDOW_S, 2);
    expect(f!.p50_ms).toBeGreaterThan(1.7);
    expect(f!.p50_ms).toBeLessThan(2.3);
    expect(f!.p99_ms).toBeGreaterThan(340);
    expect(f!.p99_ms).toBeLessThan(460);

    // 30 s later only fast calls arrive; the slow ones are still in the window.
    clock.advance(30_000);
    for (let i = 0; i < 60; i++) windows.record(w, 1, false);
    [f] = windows.figures();
    expect(f!.window_calls).toBe(180);
    expect(f!.p99_ms).toBeGreaterThan(340);

    // Once a minute has passed since the slow calls, they are gone; totals still count them.
    clock.advance(30_500);
    [f] = windows.figures();
    expect(f).toMatchObject({ window_calls: 60, window_errors: 0, errors_per_s: 0, calls: 180, errors: 20 });
    expect(f!.p99_ms).toBeLessThan(1.2);

    // A quiet minute empties the window.
    clock.advance(61_000);
    [f] = windows.figures();
    expect(f).toMatchObject({ window_calls: 0, calls_per_s: 0, p50_ms: 0, p99_ms: 0, calls: 180 });
  });

  it("a slot reused a minute later starts from zero", () => {
    const clock = new FakeClock(0);
    const windows = new MethodWindows(clock);
    const w = windows.window("svc", "m");
    windows.record(w, 5, true);
    clock.advance(WINDOW_S * 1000); // same slot, next minute
    windows.record(w, 5, false);
    const [f] = windows.figures();
    expect(f).toMatchObject({ window_calls: 1, window_errors: 0 });
  });

  it("a node that started recently divides by the time it has run, not the whole minute", () => {
    const clock = new FakeClock(0);
    const windows = new MethodWindows(clock);
    const w = windows.window("svc", "m");
    clock.advance(10_000);
    for (let i = 0; i < 50; i++) windows.record(w, 1, false);
    expect(windows.figures()[0]!.calls_per_s).toBeCloseTo(5, 1);
  });
});
