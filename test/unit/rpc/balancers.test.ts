import { describe, expect, it } from "vitest";
import { FakeClock } from "../../../src/util/clock.js";
import { SeededRandom } from "../../../src/util/random.js";
import {
  createBalancer,
  CallStats,
  type Balancer,
  type BalancerName,
  type Candidate,
} from "../../../src/rpc/balancers/index.js";

const ctx = { service: "svc", method: "m" };
const nodes = (...ids: string[]): Candidate[] => ids.map((nodeId) => ({ nodeId, local: false }));

function counts(balancer: Balancer, candidates: readonly Candidate[], n: number, service = "svc") {
  const out = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const picked = balancer.pick(candidates, { service, method: "m" })!;
    out.set(picked.nodeId, (out.get(picked.nodeId) ?? 0) + 1);
  }
  return out;
}

function make(name: BalancerName, seed = 1) {
  const clock = new FakeClock();
  const stats = new CallStats(clock);
  return { clock, stats, balancer: createBalancer(name, { random: new SeededRandom(seed), stats }) };
}

describe.each<BalancerName>(["round-robin", "random", "least-latency"])("%s balancer", (name) => {
  it("returns undefined for no candidates and the only one for one", () => {
    const { balancer } = make(name);
    expect(balancer.pick([], ctx)).toBeUndefined();
    const one = nodes("a");
    expect(balancer.pick(one, ctx)).toBe(one[0]);
  });

  it("spreads calls over every candidate and never mutates the list", () => {
    const { balancer } = make(name);
    const list = Object.freeze(nodes("a", "b", "c", "d"));
    const seen = counts(balancer, list, 400);
    expect([...seen.keys()].sort()).toEqual(["a", "b", "c", "d"]);
    for (const c of seen.values()) expect(c).toBeGreaterThan(50);
  });
});

describe("round-robin", () => {
  it("cycles in order with one cursor per service", () => {
    const { balancer } = make("round-robin");
    const list = nodes("a", "b", "c");
    const pick = (service: string) => balancer.pick(list, { service, method: "m" })!.nodeId;
    expect([pick("s1"), pick("s1"), pick("s2"), pick("s1"), pick("s2")]).toEqual(["a", "b", "a", "c", "b"]);
  });
});

describe("random", () => {
  it("replays the same choices from the same seed", () => {
    const list = nodes("a", "b", "c", "d", "e");
    const run = () => Array.from({ length: 20 }, ((b) => () => b.pick(list, ctx)!.nodeId)(make("random", 7).balancer));
    expect(run()).toEqual(run());
  });
});

describe("least-latency", () => {
  function observe(stats: CallStats, nodeId: string, latencyMs: number, times = 5, clock?: FakeClock) {
    for (let i = 0; i < times; i++) {
      const token = stats.start(nodeId, "svc", "m");
      clock?.advance(latencyMs);
      if (clock) token.done("elapsed");
      else sample(stats, nodeId, latencyMs);
      token.done("none");
    }
  }
  /** Records one finished call of `latencyMs` without moving the clock. */
  function sample(stats: CallStats, nodeId: string, latencyMs: number) {
    stats.observe(nodeId, "svc\u0000m", latencyMs, stats.now());
  }

  it("sends most calls to the fastest node", () => {
    const { balancer, stats } = make("least-latency");
    observe(stats, "fast", 2);
    observe(stats, "mid", 20);
    observe(stats, "slow", 200);
    const seen = counts(balancer, nodes("fast", "mid", "slow"), 300);
    expect(seen.get("fast")!).toBeGreaterThan(180);
    expect(seen.get("fast")!).toBeGreaterThan(seen.get("mid") ?? 0);
  });

  it("avoids a node with many calls in flight", () => {
    const { balancer, stats } = make("least-latency");
    observe(stats, "a", 10);
    observe(stats, "b", 10);
    for (let i = 0; i < 10; i++) stats.start("a", "svc", "m");
    const seen = counts(balancer, nodes("a", "b"), 50);
    expect(seen.get("b")).toBe(50);
  });

  it("tries a node it has never seen", () => {
    const { balancer, stats } = make("least-latency");
    observe(stats, "a", 10);
    observe(stats, "b", 30);
    const seen = counts(balancer, nodes("a", "b", "new"), 300);
    expect(seen.get("new")!).toBeGreaterThan(30);
  });

  it("two equal idle nodes each take at least a third of 60 concurrent calls", () => {
    for (const warm of [false, true]) {
      const { balancer, stats, clock } = make("least-latency", 3);
      if (warm) {
        observe(stats, "a", 2, 20, clock);
        observe(stats, "b", 2, 20, clock);
      }
      const picked = new Map<string, number>();
      for (let i = 0; i < 60; i++) {
        const nodeId = balancer.pick(nodes("a", "b"), ctx)!.nodeId;
        stats.start(nodeId, "svc", "m"); // all 60 in flight at once
        picked.set(nodeId, (picked.get(nodeId) ?? 0) + 1);
      }
      expect(picked.get("a")!).toBeGreaterThanOrEqual(20);
      expect(picked.get("b")!).toBeGreaterThanOrEqual(20);
    }
  });

  it("two equal nodes share sequential calls too (no fixed argmin between two)", () => {
    const { balancer, stats, clock } = make("least-latency");
    const picked = new Map<string, number>();
    for (let i = 0; i < 200; i++) {
      const nodeId = balancer.pick(nodes("a", "b"), ctx)!.nodeId;
      const token = stats.start(nodeId, "svc", "m");
      clock.advance(2);
      token.done("elapsed");
      clock.advance(5);
      picked.set(nodeId, (picked.get(nodeId) ?? 0) + 1);
    }
    expect(picked.get("a")!).toBeGreaterThanOrEqual(67);
    expect(picked.get("b")!).toBeGreaterThanOrEqual(67);
  });

  it("a node with one slow answer gets traffic again within 5 s of sequential calls", () => {
    const { balancer, stats, clock } = make("least-latency");
    observe(stats, "a", 2, 10, clock);
    observe(stats, "b", 2, 10, clock);
    observe(stats, "b", 2_000, 1, clock); // one slow answer
    const start = clock.now();
    let backAt = -1;
    while (clock.now() - start < 10_000 && backAt < 0) {
      const nodeId = balancer.pick(nodes("a", "b"), ctx)!.nodeId;
      if (nodeId === "b") backAt = clock.now() - start;
      const token = stats.start(nodeId, "svc", "m");
      clock.advance(2);
      token.done("elapsed");
      clock.advance(8);
    }
    expect(backAt).toBeGreaterThanOrEqual(0);
    expect(backAt).toBeLessThan(5_000);
  });

  it("keeps latency per method: a slow method on a node does not brand its other methods", () => {
    const { balancer, stats } = make("least-latency");
    stats.observe("a", "svc\u0000slow", 3_000, stats.now());
    observe(stats, "a", 2);
    observe(stats, "b", 2);
    const seen = counts(balancer, nodes("a", "b"), 100);
    expect(seen.get("a")!).toBeGreaterThan(20);
  });
});

describe("CallStats", () => {
  it("tracks calls in flight per node, measures latency on the clock and reports each call once", () => {
    const clock = new FakeClock();
    const stats = new CallStats(clock, { initialPriorMs: 10 });
    const t1 = stats.start("a", "svc", "m");
    const t2 = stats.start("a", "svc", "other");
    expect(stats.inflight("a")).toBe(2);
    clock.advance(30);
    t1.done("elapsed");
    t1.done("elapsed");
    expect(stats.inflight("a")).toBe(1);
    expect(stats.latency("a", "svc", "m")).toBe(20); // the first sample is blended with the prior (10)
    t2.done("none"); // e.g. the caller's own deadline: no sample
    expect(stats.inflight("a")).toBe(0);
    expect(stats.expected("a", "svc", "other")).toBeUndefined();
  });

  it("takes peaks at once, decays towards zero while unobserved, and forgets departed nodes", () => {
    const clock = new FakeClock();
    const stats = new CallStats(clock, { decayMs: 500 });
    stats.observe("a", "svc\u0000m", 10, 0);
    stats.observe("a", "svc\u0000m", 100, 0);
    expect(stats.latency("a", "svc", "m")).toBe(100);
    clock.advance(500);
    expect(stats.latency("a", "svc", "m")).toBeCloseTo(100 / Math.E, 5);
    expect(stats.expected("a", "svc", "m")).toBe(100);
    stats.forget("a");
    expect(stats.nodeIds()).toEqual([]);
  });

  it("counts a fast failure as slow so a node failing fast does not attract calls", () => {
    const clock = new FakeClock();
    const stats = new CallStats(clock, { initialPriorMs: 10 });
    stats.start("ok", "svc", "m").done("elapsed");
    stats.start("broken", "svc", "m").done("penalty");
    expect(stats.latency("broken", "svc", "m")).toBeGreaterThan(stats.latency("ok", "svc", "m"));
  });
});
