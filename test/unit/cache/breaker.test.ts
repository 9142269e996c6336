import { describe, expect, it } from "vitest";
import { CircuitBreaker } from "../../../src/cache/breaker.js";
import { FakeClock } from "../../../src/util/clock.js";

describe("CircuitBreaker", () => {
  it("opens after N consecutive failures, then lets one probe through after openMs", () => {
    const clock = new FakeClock();
    const breaker = new CircuitBreaker(clock, { failureThreshold: 3, openMs: 1_000 });
    expect(breaker.failure()).toBe(false);
    expect(breaker.failure()).toBe(false);
    expect(breaker.failure()).toBe(true);
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
    expect(breaker.success()).toBe(true);
    expect(breaker.state).toBe("closed");
  });

  it("a success resets the failure count", () => {
    const breaker = new CircuitBreaker(new FakeClock(), { failureThreshold: 2 });
    breaker.failure();
    breaker.success();
    expect(breaker.failure()).toBe(false);
    expect(breaker.state).toBe("closed");
  });
});
