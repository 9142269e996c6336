import { describe, expect, it } from "vitest";
import { P2PError } from "../../../src/errors.js";
import { FakeClock } from "../../../src/util/clock.js";
import { BreakerSet, type BreakerSetOptions } from "../../../src/rpc/circuit-breaker.js";

const unreachable = () => new P2PError("UNAVAILABLE", "down", { reason: "not_sent" });
const slow = () => new P2PError("TIMEOUT", "slow", { reason: "attempt_timeout" });
const deadline = () => new P2PError("TIMEOUT", "deadline of 30 ms exceeded", { reason: "deadline_exceeded" });

function setup(options: BreakerSetOptions = { endpoint: { minCalls: 4, failureRate: 0.5, openMs: 1000 }, node: { minCalls: 3, failureRate: 0.5, openMs: 1000 } }) {
  const clock = new FakeClock();
  return { clock, breakers: new BreakerSet(clock, options) };
}

function outcome(breakers: BreakerSet, nodeId: string, method: string, n: number, err?: () => P2PError) {
  for (let i = 0; i < n; i++) {
    if (!breakers.allow(nodeId, "svc", method)) continue;
    if (err) breakers.onFailure(nodeId, "svc", method, err());
    else breakers.onSuccess(nodeId, "svc", method);
  }
}

describe("breakers per endpoint and per node", () => {
  it("a failing method opens its own endpoint only: the node's other methods and other nodes stay served", () => {
    const { breakers } = setup();
    outcome(breakers, "a", "slow", 4, slow);
    expect(breakers.state("a", "svc", "slow")).toBe("open");
    expect(breakers.allow("a", "svc", "slow")).toBe(false);
    expect(breakers.allow("a", "svc", "hello")).toBe(true);
    expect(breakers.allow("b", "svc", "slow")).toBe(true);
    expect(breakers.nodeState("a")).toBe("closed");
    expect(breakers.endpoints()).toContainEqual({ nodeId: "a", service: "svc", method: "slow", state: "open" });
  });

  it("the caller's own deadline never counts, however many calls hit it", () => {
    const { breakers } = setup();
    outcome(breakers, "a", "slow", 200, deadline);
    expect(breakers.state("a", "svc", "slow")).toBe("closed");
    expect(breakers.nodeState("a")).toBe("closed");
  });

  it("trips on a rate with a minimum of calls, not on a few failures among many successes", () => {
    const { breakers } = setup();
    outcome(breakers, "a", "m", 20);
    outcome(breakers, "a", "m", 10, slow);
    expect(breakers.state("a", "svc", "m")).toBe("closed"); // 10 of 30
    outcome(breakers, "a", "m", 10, slow);
    expect(breakers.state("a", "svc", "m")).toBe("open"); // 20 of 40
  });

  it("answers of the method and local refusals never count against anything", () => {
    const { breakers } = setup();
    for (const code of ["INTERNAL", "INVALID_PARAMS", "FORBIDDEN", "NOT_FOUND"] as const) outcome(breakers, "a", "m", 5, () => new P2PError(code, "answered"));
    outcome(breakers, "a", "m", 5, () => new P2PError("UNAVAILABLE", "full", { reason: "bulkhead_full" }));
    outcome(breakers, "a", "m", 5, () => new P2PError("UNAVAILABLE", "draining", { reason: "draining" }));
    expect(breakers.state("a", "svc", "m")).toBe("closed");
    expect(breakers.nodeState("a")).toBe("closed");
  });

  it("unreachability opens the node breaker for every method; membership confirming the node alive closes it", () => {
    const { breakers } = setup();
    outcome(breakers, "a", "m", 3, unreachable);
    expect(breakers.nodeState("a")).toBe("open");
    expect(breakers.allow("a", "svc", "other")).toBe(false);
    expect(breakers.state("a", "svc", "m")).toBe("closed");
    breakers.confirmAlive("a");
    expect(breakers.allow("a", "svc", "other")).toBe(true);
  });

  it("half-opens after openMs with one probe; a probe refused locally gives its slot back; success closes", () => {
    const { breakers, clock } = setup();
    outcome(breakers, "a", "m", 4, slow);
    clock.advance(999);
    expect(breakers.allow("a", "svc", "m")).toBe(false);
    clock.advance(1);
    expect(breakers.state("a", "svc", "m")).toBe("half-open");
    expect(breakers.allow("a", "svc", "m")).toBe(true);
    expect(breakers.allow("a", "svc", "m")).toBe(false);
    breakers.onFailure("a", "svc", "m", deadline()); // the probe's caller ran out of time: no verdict
    expect(breakers.allow("a", "svc", "m")).toBe(true);
    breakers.onFailure("a", "svc", "m", slow());
    expect(breakers.state("a", "svc", "m")).toBe("open");
    clock.advance(1000);
    expect(breakers.allow("a", "svc", "m")).toBe(true);
    breakers.onSuccess("a", "svc", "m");
    expect(breakers.state("a", "svc", "m")).toBe("closed");
  });

  it("forgets a departed node entirely", () => {
    const { breakers } = setup();
    outcome(breakers, "a", "m", 4, slow);
    outcome(breakers, "a", "n", 3, unreachable);
    breakers.forget("a");
    expect(breakers.endpoints()).toEqual([]);
    expect(breakers.nodeStates()).toEqual([]);
    expect(breakers.allow("a", "svc", "m")).toBe(true);
  });
});
