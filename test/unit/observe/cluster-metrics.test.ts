import { describe, expect, it } from "vitest";
import { FakeClock } from "../../../src/util/clock.js";
import { ClusterMetrics } from "../../../src/observe/cluster-metrics.js";
import { MethodWindows } from "../../../src/observe/method-window.js";
import type { NodeSnapshot } from "../../../src/observe/snapshot.js";
import type { MemberView } from "../../../src/cluster/types.js";

const member = (nodeId: string, state: MemberView["state"] = "alive"): MemberView => ({
  nodeId,
  address: "127.0.0.1:1",
  state,
  incarnation: 0,
  meta: { role: nodeId === "a" ? "coordinator" : "worker", version: "1", started_at: 0, services: [] },
  lastChange: 0,
});

/** A node that has run a full minute and took `calls` calls of `ms` each. */
function snapshotWith(calls: number, ms: number, hits: number): NodeSnapshot {
  const clock = new FakeClock(0);
  const windows = new MethodWindows(clock);
  clock.advance(60_000);
  const w = windows.window("svc", "m");
  for (let i = 0; i < calls; i++) windows.record(w, ms, false);
  return {
    window_s: windows.spanS(),
    process: { cpu_pct: 1, rss_bytes: 2, heap_used_bytes: 3, loop_lag_ms: 0, inflight: 0, uptime_s: 60 },
    methods: windows.figures(),
    cache: { hits, misses: 10 - hits, hit_ratio: hits / 10 },
  };
}

describe("cluster-wide gather", () => {
  it("adds rates, merges percentiles, and marks a node that does not answer stale without waiting for it", async () => {
    const clock = new FakeClock(60_000);
    const a = snapshotWith(60, 1, 5);
    const b = snapshotWith(60, 100, 10);
    let bAnswers = true;
    const metrics = new ClusterMetrics({
      localId: "a",
      members: () => [member("a"), member("b"), member("c", "dead")],
      localSnapshot: async () => a,
      fetchSnapshot: (m) => (bAnswers ? Promise.resolve(b) : new Promise(() => {})),
      clock,
      timeoutMs: 1500,
    });
    const first = await metrics.gather();
    expect(first.nodes.map((n) => [n.node_id, n.stale])).toEqual([["a", false], ["b", false]]);
    const [row] = first.services;
    expect(row).toMatchObject({ service: "svc", method: "m" });
    expect(row!.calls_per_s).toBeCloseTo(2, 1);
    expect(row!.p50_ms).toBeLessThan(1.2);
    expect(row!.p99_ms).toBeGreaterThan(85);
    expect(first.cache).toEqual({ hits: 15, misses: 5, hit_ratio: 0.75 });

    bAnswers = false;
    clock.advance(1000);
    const pending = metrics.gather();
    clock.advance(1600); // the bound passes: the answer comes without b
    const second = await pending;
    const stale = second.nodes.find((n) => n.node_id === "b")!;
    expect(stale).toMatchObject({ stale: true, error: expect.stringContaining("no answer"), process: b.process });
    expect(second.services[0]!.calls_per_s).toBeCloseTo(1, 1);
    expect(second.cache.hits).toBe(5);
  });

  it("a peer answering with something else is stale, not a crash", async () => {
    const clock = new FakeClock(0);
    const metrics = new ClusterMetrics({
      localId: "a",
      members: () => [member("a"), member("b")],
      localSnapshot: async () => snapshotWith(1, 1, 0),
      fetchSnapshot: async () => ({ window_s: "x", methods: [{ __proto__: 1 }] }),
      clock,
      timeoutMs: 1500,
    });
    const body = await metrics.gather();
    expect(body.nodes.find((n) => n.node_id === "b")).toMatchObject({ stale: true, process: null, methods: [], cache: null });
  });
});
