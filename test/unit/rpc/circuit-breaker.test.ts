import { describe, expect, it } from "vitest";
import { P2PError } from "../../../src/errors.js";
import { FakeClock } from "../../../src/util/clock.js";
import { BreakerSet, type BreakerChange } from "../../../src/rpc/circuit-breaker.js";

const unreachable = () => new P2PError("UNAVAILABLE", "down", { reason: "not_sent" });
const timeout = () => new P2PError("TIMEOUT", "slow", { reason: "attempt_timeout" });

function setup(options = { failureThreshold: 3, openMs: 1000, halfOpenMax: 1 }) {
  const clock = new FakeClock();
  const breakers = new BreakerSet(clock, options);
  const changes: string[] = [];
  breakers.onChange((c: BreakerChange) => changes.push(`${c.nodeId}:${c.from}->${c.to}`));
  return { clock, breakers, changes };
}

function fail(breakers: BreakerSet, nodeId: string, n: number, err = unreachable) {
  for (let i = 0; i < n; i++) {
    breakers.allow(nodeId);
    breakers.onFailure(nodeId, err());
  }
}

describe("circuit breaker", () => {
  it("opens after the threshold of consecutive node failures and refuses calls", () => {
    const { breakers, changes } = setup();
    fail(breakers, "a", 2);
    expect(breakers.state("a")).toBe("closed");
    expect(breakers.allow("a")).toBe(true);
    breakers.onFailure("a", timeout());
    expect(breakers.state("a")).toBe("open");
    expect(breakers.allow("a")).toBe(false);
    expect(breakers.allow("b")).toBe(true); // per node
    expect(changes).toEqual(["a:closed->open"]);
  });

  it("a success in between resets the count", () => {
    const { breakers } = setup();
    fail(breakers, "a", 2);
    breakers.onSuccess("a");
    fail(breakers, "a", 2);
    expect(breakers.state("a")).toBe("closed");
  });

  it("does not count errors the method answered with", () => {
    const { breakers } = setup();
    for (const code of ["INTERNAL", "INVALID_PARAMS", "FORBIDDEN", "NOT_FOUND"] as const) {
      fail(breakers, "a", 5, () => new P2PError(code, "answered"));
    }
    expect(breakers.state("a")).toBe("closed");
    // ...and an answer resets a run of real failures
    fail(breakers, "a", 2);
    breakers.onFailure("a", new P2PError("INTERNAL", "method threw"));
    fail(breakers, "a", 2);
    expect(breakers.state("a")).toBe("closed");
  });

  it("does not count its own local refusals", () => {
    const { breakers } = setup();
    fail(breakers, "a", 5, () => new P2PError("UNAVAILABLE", "full", { reason: "bulkhead_full" }));
    expect(breakers.state("a")).toBe("closed");
  });

  it("half-opens after openMs, lets halfOpenMax probes through, and closes on success", () => {
    const { breakers, clock, changes } = setup({ failureThreshold: 1, openMs: 1000, halfOpenMax: 2 });
    fail(breakers, "a", 1);
    clock.advance(999);
    expect(breakers.allow("a")).toBe(false);
    clock.advance(1);
    expect(breakers.state("a")).toBe("half-open");
    expect(breakers.allow("a")).toBe(true);
    expect(breakers.allow("a")).toBe(true);
    expect(breakers.allow("a")).toBe(false); // both probe slots taken
    breakers.onSuccess("a");
    expect(breakers.state("a")).toBe("closed");
    expect(breakers.allow("a")).toBe(true);
    expect(changes).toEqual(["a:closed->open", "a:open->half-open", "a:half-open->closed"]);
  });

  it("re-opens for another openMs when a probe fails", () => {
    const { breakers, clock, changes } = setup({ failureThreshold: 1, openMs: 1000, halfOpenMax: 1 });
    fail(breakers, "a", 1);
    clock.advance(1000);
    expect(breakers.allow("a")).toBe(true);
    breakers.onFailure("a", unreachable());
    expect(breakers.state("a")).toBe("open");
    clock.advance(500);
    expect(breakers.allow("a")).toBe(false);
    clock.advance(500);
    expect(breakers.allow("a")).toBe(true);
    expect(changes).toEqual(["a:closed->open", "a:open->half-open", "a:half-open->open", "a:open->half-open"]);
  });

  it("gives a probe slot back when the probe was refused locally", () => {
    const { breakers, clock } = setup({ failureThreshold: 1, openMs: 1000, halfOpenMax: 1 });
    fail(breakers, "a", 1);
    clock.advance(1000);
    expect(breakers.allow("a")).toBe(true);
    expect(breakers.allow("a")).toBe(false);
    breakers.onFailure("a", new P2PError("UNAVAILABLE", "full", { reason: "bulkhead_full" }));
    expect(breakers.state("a")).toBe("half-open");
    expect(breakers.allow("a")).toBe(true);
  });

  it("a throwing listener does not break the breaker; unsubscribe stops events", () => {
    const { breakers, changes } = setup({ failureThreshold: 1, openMs: 1000, halfOpenMax: 1 });
    const off = breakers.onChange(() => {
      throw new Error("bad listener");
    });
    fail(breakers, "a", 1);
    expect(breakers.state("a")).toBe("open");
    off();
    fail(breakers, "b", 1);
    expect(changes).toEqual(["a:closed->open", "b:closed->open"]);
    expect(breakers.notClosed()).toEqual([
      { nodeId: "a", state: "open" },
      { nodeId: "b", state: "open" },
    ]);
  });
});
