import { describe, expect, it } from "vitest";
import { FakeClock } from "../../../src/util/clock.js";
import { SeededRandom } from "../../../src/util/random.js";
import {
  createBalancer,
  NodeStats,
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
  const stats = new NodeStats(clock);
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
  function observe(stats: NodeStats, nodeId: string, latencyMs: number, times = 5) {
    for (let i = 0; i < times; i++) stats.start(nodeId).done(true, latencyMs);
  }

  it("sends most calls to the fastest node", () => {
    const { balancer, stats } = make("least-latency");
    observe(stats, "fast", 2);
    observe(stats, "mid", 20);
    observe(stats, "slow", 200);
    const seen = counts(balancer, nodes("fast", "mid", "slow"), 300);
    expect(seen.get("fast")!).toBeGreaterThan(180);
    expect(seen.get("slow") ?? 0).toBe(0); // slow always loses its pair
  });

  it("avoids a node with many calls in flight", () => {
    const { balancer, stats } = make("least-latency");
    observe(stats, "a", 10);
    observe(stats, "b", 10);
    for (let i = 0; i < 10; i++) stats.start("a");
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

  it("gives a slow node another chance after it has not been observed for a while", () => {
    const { balancer, stats, clock } = make("least-latency");
    observe(stats, "a", 10, 20);
    observe(stats, "b", 10, 20);
    observe(stats, "slow", 500);
    expect(balancer.pick(nodes("a", "slow"), ctx)!.nodeId).toBe("a");
    const before = stats.latency("slow");
    clock.advance(120_000);
    stats.start("a").done(true, 10); // keep a fresh
    expect(stats.latency("slow")).toBeLessThan(before / 10);
    expect(stats.latency("slow")).toBeLessThan(2 * stats.latency("never-seen"));
    expect(stats.latency("never-seen")).toBe(10); // the median, not dragged up by "slow"
  });
});

describe("NodeStats", () => {
  it("tracks calls in flight, measures latency on the clock and reports each call once", () => {
    const clock = new FakeClock();
    const stats = new NodeStats(clock, { alpha: 0.5, initialPriorMs: 10 });
    const t1 = stats.start("a");
    const t2 = stats.start("a");
    expect(stats.inflight("a")).toBe(2);
    clock.advance(30);
    t1.done(true);
    t1.done(true);
    expect(stats.inflight("a")).toBe(1);
    expect(stats.latency("a")).toBe(30); // first sample is taken as is
    t2.abandon();
    expect(stats.snapshot("a")).toEqual({ inflight: 0, ewmaMs: 30, calls: 1, failures: 0 });
  });

  it("counts a fast failure as slow so a node failing fast does not attract calls", () => {
    const clock = new FakeClock();
    const stats = new NodeStats(clock, { initialPriorMs: 10 });
    stats.start("ok").done(true, 10);
    stats.start("broken").done(false, 0.1);
    expect(stats.latency("broken")).toBeGreaterThan(stats.latency("ok"));
    expect(stats.snapshot("broken").failures).toBe(1);
  });
});
