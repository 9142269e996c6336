import { describe, expect, it } from "vitest";
import { CircuitBreaker } from "../../../src/util/circuit-breaker.js";
import { FakeClock } from "../../../src/util/clock.js";

describe("CircuitBreaker (the one primitive)", () => {
  it("opens on a failure rate once the window holds minCalls, then lets one probe through after openMs", () => {
    const clock = new FakeClock();
    const breaker = new CircuitBreaker(clock, { failureRate: 0.5, minCalls: 4, windowMs: 10_000, openMs: 1_000 });
    expect(breaker.failure()).toBe(false);
    expect(breaker.failure()).toBe(false);
    expect(breaker.failure()).toBe(false); // 3 calls: below minCalls
    expect(breaker.success()).toBe(false);
    expect(breaker.state).toBe("closed");
    expect(breaker.failure()).toBe(true); // 4 of 5 failed
    expect(breaker.state).toBe("open");
    expect(breaker.tryAcquire()).toBe(false);
    clock.advance(1_000);
    expect(breaker.state).toBe("half-open");
    expect(breaker.tryAcquire()).toBe(true);
    expect(breaker.tryAcquire()).toBe(false);
    expect(breaker.failure()).toBe(true);
    expect(breaker.state).toBe("open");
    clock.advance(1_000);
    expect(breaker.tryAcquire()).toBe(true);
    breaker.release(); // the probe never went out
    expect(breaker.tryAcquire()).toBe(true);
    expect(breaker.success()).toBe(true);
    expect(breaker.state).toBe("closed");
    expect(breaker.totals()).toEqual({ calls: 0, failures: 0 });
  });

  it("a rate under the threshold never opens, and old outcomes leave the window", () => {
    const clock = new FakeClock();
    const breaker = new CircuitBreaker(clock, { failureRate: 0.5, minCalls: 10, windowMs: 1_000 });
    for (let i = 0; i < 40; i++) {
      if (i % 3 === 0) breaker.failure();
      else breaker.success();
    }
    expect(breaker.state).toBe("closed");
    for (let i = 0; i < 9; i++) breaker.failure();
    expect(breaker.state).toBe("closed"); // 23 of 49: still under half
    clock.advance(1_000);
    expect(breaker.totals()).toEqual({ calls: 0, failures: 0 });
    for (let i = 0; i < 9; i++) breaker.failure();
    expect(breaker.state).toBe("closed"); // 9 calls: under minCalls again
    breaker.failure();
    expect(breaker.state).toBe("open");
  });

  it("trip() opens at once; reset() closes with an empty window", () => {
    const breaker = new CircuitBreaker(new FakeClock());
    breaker.trip();
    expect(breaker.state).toBe("open");
    expect(breaker.success()).toBe(false); // a late answer from before does not close it
    breaker.reset();
    expect(breaker.state).toBe("closed");
  });
});
