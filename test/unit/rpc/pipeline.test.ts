import { describe, expect, it } from "vitest";
import { P2PError } from "../../../src/errors.js";
import { FakeClock } from "../../../src/util/clock.js";
import { SeededRandom } from "../../../src/util/random.js";
import { createBalancer, CallStats, type BalancerName, type Candidate } from "../../../src/rpc/balancers/index.js";
import { BreakerSet } from "../../../src/rpc/circuit-breaker.js";
import { BulkheadSet } from "../../../src/rpc/bulkhead.js";
import { Deadline } from "../../../src/rpc/deadline.js";
import {
  callWithResilience,
  createPipelineDeps,
  forgetNode,
  type PipelineDeps,
  HEDGE_FLOOR_MS,
  hedgeDelay,
  type NodeHealth,
  type ResilientCall,
} from "../../../src/rpc/pipeline.js";
import { flush } from "./helpers.js";

const nodes = (...ids: string[]): Candidate[] => ids.map((nodeId) => ({ nodeId, local: false }));
const notSent = (node: string) => new P2PError("UNAVAILABLE", `cannot reach ${node}`, { reason: "not_sent" });

function world(balancer: BalancerName = "round-robin", breakerThreshold = 3) {
  const clock = new FakeClock();
  const stats = new CallStats(clock);
  const deps: PipelineDeps = {
    clock,
    stats,
    balancer: createBalancer(balancer, { random: new SeededRandom(42), stats }),
    breakers: new BreakerSet(clock, { node: { minCalls: breakerThreshold, failureRate: 0.5, openMs: 5000, halfOpenMax: 1 } }),
    bulkheads: new BulkheadSet(clock, { maxInflight: 10, maxQueue: 10 }),
  };
  const calls: string[] = [];
  const call = <T>(
    attempt: (nodeId: string, remainingMs: number) => Promise<T>,
    extra: Partial<ResilientCall<T>> & { deps?: PipelineDeps } = {},
  ): Promise<T> =>
    callWithResilience<T>(extra.deps ?? deps, {
      service: "svc",
      method: "m",
      candidates: nodes("a", "b", "c"),
      deadline: Deadline.after(1000, clock),
      idempotent: false,
      attempt: (nodeId, remainingMs) => {
        calls.push(nodeId);
        return attempt(nodeId, remainingMs);
      },
      ...extra,
    });
  return { clock, deps, calls, call };
}


describe("call pipeline", () => {
  it("spreads calls over the nodes and passes the remaining budget on", async () => {
    const { call, calls } = world("least-latency");
    const budgets: number[] = [];
    for (let i = 0; i < 60; i++) {
      await call(async (nodeId, remainingMs) => {
        budgets.push(remainingMs);
        return nodeId;
      });
    }
    expect(new Set(calls)).toEqual(new Set(["a", "b", "c"]));
    expect(budgets.every((b) => b === 1000)).toBe(true);
  });

  it("skips a node whose breaker is open without spending an attempt", async () => {
    const { call, calls, deps } = world("round-robin", 1);
    deps.breakers.onFailure("a", "svc", "m", notSent("a"));
    for (let i = 0; i < 6; i++) await call(async (n) => n, { maxAttempts: 1 });
    expect(calls).not.toContain("a");
    expect(calls.length).toBe(6);
  });

  it("retries a call that was not sent on another node", async () => {
    const { call, calls } = world();
    const result = await call(async (nodeId) => {
      if (nodeId === "a") throw notSent("a");
      return `ran on ${nodeId}`;
    });
    expect(calls[0]).toBe("a");
    expect(calls.length).toBe(2);
    expect(result).toBe(`ran on ${calls[1]}`);
  });

  it("maps a refused socket to not_sent and retries", async () => {
    const { call, calls } = world();
    const result = await call(async (nodeId) => {
      if (nodeId === "a") throw Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });
      return nodeId;
    });
    expect(calls).toEqual(["a", result]);
    expect(result).not.toBe("a");
  });

  it("does not retry an error the method threw, and returns it as is", async () => {
    const { call, calls, deps } = world();
    const err = await call(async () => {
      throw new P2PError("INTERNAL", "method failed");
    }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "INTERNAL", message: "method failed" });
    expect(calls).toEqual(["a"]);
    expect(deps.breakers.state("a", "svc", "m")).toBe("closed");
    expect(deps.breakers.nodeState("a")).toBe("closed");
  });

  it("does not retry a non-P2P exception either; it becomes INTERNAL", async () => {
    const { call, calls } = world();
    await expect(
      call(async () => {
        throw new TypeError("oops");
      }),
    ).rejects.toMatchObject({ code: "INTERNAL", message: "oops" });
    expect(calls).toEqual(["a"]);
  });

  it("retries an attempt TIMEOUT only when the method is idempotent", async () => {
    const slowOnA = async (nodeId: string) => {
      if (nodeId === "a") throw new P2PError("TIMEOUT", "attempt timed out", { reason: "attempt_timeout" });
      return nodeId;
    };
    const plain = world();
    await expect(plain.call(slowOnA, { idempotent: false })).rejects.toMatchObject({ code: "TIMEOUT" });
    expect(plain.calls).toEqual(["a"]);

    const idem = world();
    const result = await idem.call(slowOnA, { idempotent: true });
    expect(idem.calls).toEqual(["a", result]);
  });

  it("hedges an idempotent call that runs far past its node's usual latency; the first answer wins", async () => {
    const { call, calls, clock } = world();
    const result = call(
      (nodeId) => (nodeId === "a" ? new Promise<string>(() => {}) : Promise.resolve(nodeId)),
      { idempotent: true, candidates: nodes("a", "b"), deadline: Deadline.after(30_000, clock) },
    );
    await flush();
    clock.advance(HEDGE_FLOOR_MS - 1);
    await flush();
    expect(calls).toEqual(["a"]);
    clock.advance(1);
    await expect(result).resolves.toBe("b");
    expect(calls).toEqual(["a", "b"]);
  });

  it("never hedges a call that is not idempotent: it waits for its node", async () => {
    const { call, calls, clock } = world();
    const outcome = call(() => new Promise<string>(() => {}), { candidates: nodes("a", "b"), deadline: Deadline.after(5000, clock) }).catch((e: unknown) => e);
    for (let t = 0; t < 50; t++) {
      clock.advance(100);
      await flush();
    }
    expect(await outcome).toMatchObject({ code: "TIMEOUT", data: { reason: "deadline_exceeded" } });
    expect(calls).toEqual(["a"]);
  });

  it("fails over an in-flight idempotent call the moment its target turns suspect", async () => {
    const { call, calls, deps, clock } = world();
    const watchers = new Map<string, () => void>();
    const health: NodeHealth = {
      watch(nodeId, onTrouble) {
        watchers.set(nodeId, onTrouble);
        return () => watchers.delete(nodeId);
      },
    };
    const result = call(
      (nodeId) => (nodeId === "a" ? new Promise<string>(() => {}) : Promise.resolve(nodeId)),
      { idempotent: true, candidates: nodes("a", "b"), deadline: Deadline.after(30_000, clock), deps: { ...deps, health } },
    );
    await flush();
    clock.advance(250);
    watchers.get("a")!();
    await expect(result).resolves.toBe("b");
    expect(calls).toEqual(["a", "b"]);
    expect(clock.now()).toBe(250);
    expect(watchers.size).toBe(0); // unsubscribed once the call ended
  });

  it("respects the deadline: TIMEOUT at the deadline, no later, nothing retried after", async () => {
    const { call, calls, clock } = world();
    const start = clock.now();
    let settledAt = -1;
    const outcome = call(() => new Promise<string>(() => {}), { idempotent: true }).catch((e: unknown) => {
      settledAt = clock.now();
      return e;
    });
    for (let t = 0; t < 20 && settledAt < 0; t++) {
      clock.advance(100);
      await flush();
    }
    const err = (await outcome) as P2PError;
    expect(err.code).toBe("TIMEOUT");
    expect(err.message).toBe("deadline of 1000 ms exceeded");
    expect(settledAt - start).toBe(1000);
    // Idempotent: second and third attempts were hedged within the budget (at 500 and 750 ms).
    expect([...calls].sort()).toEqual(["a", "b", "c"]);
    expect(err.data).toMatchObject({ reason: "deadline_exceeded", tried: calls });
    expect(clock.pending).toBe(0);
  });

  it("hedge delay: what the endpoint's latency justifies, at least 1 s, or half a shorter budget; never past the deadline", () => {
    expect(hedgeDelay(2, 30_000)).toBe(HEDGE_FLOOR_MS);
    expect(hedgeDelay(500, 30_000)).toBe(2_000);
    expect(hedgeDelay(2, 1_000)).toBe(500);
    expect(hedgeDelay(2, 200)).toBe(100);
    expect(hedgeDelay(2, 60)).toBe(50);
    expect(hedgeDelay(2, 40)).toBeNull(); // no room for a second attempt
    expect(hedgeDelay(300, 1_000)).toBeNull(); // a legitimately slow endpoint is left to answer
  });

  it("a short deadline still fails over from a node that went silent: hedged at half the budget", async () => {
    const { call, calls, clock } = world();
    let settledAt = -1;
    const result = call(
      (nodeId) => (nodeId === "a" ? new Promise<string>(() => {}) : Promise.resolve(nodeId)),
      { idempotent: true, candidates: nodes("a", "b"), deadline: Deadline.after(1_000, clock) },
    ).then((v) => {
      settledAt = clock.now();
      return v;
    });
    for (let t = 0; t < 10 && settledAt < 0; t++) {
      clock.advance(100);
      await flush();
    }
    await expect(result).resolves.toBe("b");
    expect(settledAt).toBe(500);
    expect(calls).toEqual(["a", "b"]);
  });

  it("two silent nodes of three (one side of a split): answered by the third well inside a 1 s deadline", async () => {
    const { call, calls, clock } = world();
    let settledAt = -1;
    const result = call(
      (nodeId) => (nodeId === "c" ? Promise.resolve(nodeId) : new Promise<string>(() => {})),
      { idempotent: true, candidates: nodes("a", "b", "c"), deadline: Deadline.after(1_000, clock) },
    ).then((v) => {
      settledAt = clock.now();
      return v;
    });
    for (let t = 0; t < 40 && settledAt < 0; t++) {
      clock.advance(25);
      await flush();
    }
    await expect(result).resolves.toBe("c");
    expect(calls.at(-1)).toBe("c");
    // At worst a at 0, b at 500, c at 500 + 250 (half of what was left).
    expect(settledAt).toBeLessThanOrEqual(750);
  });

  it("when every node fails: UNAVAILABLE naming the tried nodes and the last error", async () => {
    const { call, calls } = world();
    const err = (await call(async (nodeId) => {
      throw notSent(nodeId);
    }, { maxAttempts: 5 }).catch((e: unknown) => e)) as P2PError;
    expect([...calls].sort()).toEqual(["a", "b", "c"]);
    expect(err.code).toBe("UNAVAILABLE");
    expect(err.message).toBe("no healthy node can take the call to svc.m");
    expect(err.data).toMatchObject({
      reason: "no_healthy_node",
      tried: calls,
      last_error: { code: "UNAVAILABLE", message: `cannot reach ${calls[2]}`, data: { reason: "not_sent" } },
    });
  });

  it("stops after maxAttempts even with nodes left", async () => {
    const { call, calls } = world();
    const err = (await call(async (nodeId) => {
      throw notSent(nodeId);
    }, { maxAttempts: 2 }).catch((e: unknown) => e)) as P2PError;
    expect(calls.length).toBe(2);
    expect(new Set(calls).size).toBe(2);
    expect(err.data).toMatchObject({ tried: calls });
  });

  it("with every breaker open: UNAVAILABLE at once, naming the skipped nodes", async () => {
    const { call, calls, deps } = world("random", 1);
    for (const n of ["a", "b", "c"]) deps.breakers.onFailure(n, "svc", "m", notSent(n));
    const err = (await call(async (n) => n).catch((e: unknown) => e)) as P2PError;
    expect(calls).toEqual([]);
    expect(err.code).toBe("UNAVAILABLE");
    expect(err.data).toMatchObject({ tried: [] });
    expect([...((err.data as { skipped: string[] }).skipped)].sort()).toEqual(["a", "b", "c"]);
  });

  it("never tries an excluded node; nothing left is UNAVAILABLE", async () => {
    const { call, calls } = world();
    await call(async (n) => n, { exclude: new Set(["a", "b"]) });
    expect(calls).toEqual(["c"]);
    await expect(call(async (n) => n, { exclude: new Set(["a", "b", "c"]) })).rejects.toMatchObject({
      code: "UNAVAILABLE",
    });
  });

  it("records outcomes: latency in CallStats, unreachability in the node breaker", async () => {
    const { call, deps, clock } = world("round-robin", 2);
    const done = call(async (nodeId) => {
      if (nodeId === "a") throw notSent("a");
      await new Promise<void>((resolve) => clock.setTimeout(resolve, 40));
      return nodeId;
    }, { candidates: nodes("a", "b") });
    await flush();
    expect(deps.stats.inflight("b")).toBe(1);
    clock.advance(40);
    await done;
    expect(deps.stats.inflight("b")).toBe(0);
    expect(deps.stats.latency("b", "svc", "m")).toBeGreaterThan(20); // the first sample, blended with the prior
    expect(deps.stats.latency("a", "svc", "m")).toBeGreaterThan(30); // a penalty: 4 × the prior of 10 ms
    await call(async (n) => {
      throw notSent(n);
    }, { candidates: nodes("a") }).catch(() => undefined); // a fails again: 2 of 2
    expect(deps.breakers.nodeState("a")).toBe("open");
    expect(deps.breakers.nodeState("b")).toBe("closed");
    expect(deps.breakers.state("a", "svc", "m")).toBe("closed"); // unreachability is the node's, not the method's
  });

  it("the caller's own deadline is never a fault nor a latency sample, and always answers 504", async () => {
    const { call, deps, clock } = world("round-robin", 1);
    for (let i = 0; i < 30; i++) {
      const outcome = call(() => new Promise<string>(() => {}), { deadline: Deadline.after(30, clock), candidates: nodes("a") }).catch((e: unknown) => e);
      await flush();
      clock.advance(30);
      expect(await outcome).toMatchObject({ code: "TIMEOUT", data: { reason: "deadline_exceeded" } });
    }
    expect(deps.breakers.nodeState("a")).toBe("closed");
    expect(deps.breakers.state("a", "svc", "m")).toBe("closed");
    expect(deps.stats.expected("a", "svc", "m")).toBeUndefined();
    await expect(call(async (n) => n, { candidates: nodes("a") })).resolves.toBe("a");
  });

  it("a TIMEOUT from the link a hair before the deadline is still 504, never a retry with no budget", async () => {
    const { call, calls, clock } = world();
    const outcome = call(
      (nodeId) => new Promise<string>((_, reject) => clock.setTimeout(() => reject(new P2PError("TIMEOUT", `no answer from ${nodeId}`)), 999.7)),
      { idempotent: true },
    ).catch((e: unknown) => e);
    await flush();
    clock.advance(999.7);
    await flush();
    expect(await outcome).toMatchObject({ code: "TIMEOUT", data: { reason: "deadline_exceeded" } });
    expect(calls).toEqual(["a"]);
  });

  it("no attempt starts with less than a few ms left: a retryable failure then answers 504", async () => {
    const { call, calls, clock } = world();
    const outcome = call(
      (nodeId) => new Promise<string>((_, reject) => clock.setTimeout(() => reject(notSent(nodeId)), 997)),
      { idempotent: true },
    ).catch((e: unknown) => e);
    await flush();
    clock.advance(997);
    await flush();
    expect(await outcome).toMatchObject({ code: "TIMEOUT" });
    expect(calls).toEqual(["a"]);
  });

  it("a full bulkhead on one node sends the call to another", async () => {
    const { call, calls, deps, clock } = world();
    const tight = { ...deps, bulkheads: new BulkheadSet(clock, { maxInflight: 1, maxQueue: 0 }) };
    const hang = call(() => new Promise<string>(() => {}), { candidates: nodes("a"), deps: tight });
    const result = await call(async (n) => n, { candidates: nodes("a", "b"), deps: tight });
    void hang.catch(() => {});
    expect(result).toBe("b");
    expect(calls).toEqual(["a", "b"]);
  });
});

describe("call pipeline with a queue", () => {
  it("a call that times out in the bulkhead queue never runs and does not count against the node", async () => {
    const { call, calls, deps, clock } = world("round-robin", 1);
    const tight = { ...deps, bulkheads: new BulkheadSet(clock, { maxInflight: 1, maxQueue: 5 }) };
    const first = call(() => new Promise<string>(() => {}), {
      candidates: nodes("a"),
      deps: tight,
      deadline: Deadline.after(10_000, clock),
    });
    void first.catch(() => {});
    const queued = call(async (n) => n, { candidates: nodes("a"), deps: tight, deadline: Deadline.after(100, clock) });
    const outcome = queued.catch((e: unknown) => e);
    await flush();
    clock.advance(100);
    expect(await outcome).toMatchObject({ code: "TIMEOUT", data: { reason: "deadline_exceeded", tried: ["a"] } });
    expect(calls).toEqual(["a"]); // only the first call reached the attempt
    expect(deps.breakers.nodeState("a")).toBe("closed");
    expect(tight.bulkheads.get("a").queued).toBe(0);
  });
});

describe("call pipeline across retries", () => {
  it("retries share one deadline: each attempt gets what is left, the call ends at the deadline", async () => {
    const { call, clock } = world();
    const budgets: number[] = [];
    let settledAt = -1;
    const outcome = call(
      (nodeId, remainingMs) => {
        budgets.push(remainingMs);
        return new Promise<string>((_, reject) => clock.setTimeout(() => reject(notSent(nodeId)), 400));
      },
      { candidates: nodes("a", "b", "c", "d", "e"), maxAttempts: 5 },
    ).catch((e: unknown) => {
      settledAt = clock.now();
      return e;
    });
    for (let t = 0; t < 30 && settledAt < 0; t++) {
      clock.advance(50);
      await flush();
    }
    const err = (await outcome) as P2PError;
    expect(budgets).toEqual([1000, 600, 200]);
    expect(settledAt).toBe(1000);
    expect(err.code).toBe("TIMEOUT");
    expect((err.data as { tried: string[] }).tried).toHaveLength(3);
    clock.advance(200); // the third fake remote answers late, into the void
    await flush();
    expect(clock.pending).toBe(0);
  });
});

describe("pipeline wiring", () => {
  it("createPipelineDeps builds working defaults and forgetNode clears a departed node", async () => {
    const clock = new FakeClock();
    const deps = createPipelineDeps({ clock, random: new SeededRandom(1), breaker: { node: { minCalls: 1 } } });
    const spec = {
      service: "svc",
      method: "m",
      candidates: nodes("gone"),
      deadline: Deadline.after(1000, clock),
      idempotent: false,
    };
    await expect(
      callWithResilience(deps, { ...spec, attempt: async () => Promise.reject(notSent("gone")) }),
    ).rejects.toMatchObject({ code: "UNAVAILABLE" });
    expect(deps.breakers.nodeState("gone")).toBe("open");
    forgetNode(deps, "gone");
    expect(deps.breakers.nodeState("gone")).toBe("closed");
    expect(deps.breakers.endpoints()).toEqual([]);
    expect(deps.stats.nodeIds()).toEqual([]);
    await expect(callWithResilience(deps, { ...spec, attempt: async () => "back" })).resolves.toBe("back");
  });
});
