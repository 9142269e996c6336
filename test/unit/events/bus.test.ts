import { describe, expect, it } from "vitest";
import { EventBus, type ClusterEvent } from "../../../src/events/bus.js";
import { MembershipEventPublisher } from "../../../src/events/membership-events.js";
import type { MembershipSource } from "../../../src/cluster/registry.js";
import type { MemberView, NodeMeta } from "../../../src/cluster/types.js";

describe("event bus", () => {
  it("gives increasing ids and delivers to every subscriber until it unsubscribes", () => {
    const bus = new EventBus(8, () => Date.UTC(2026, 0, 1));
    const a: ClusterEvent[] = [];
    const b: ClusterEvent[] = [];
    const offA = bus.subscribe((e) => a.push(e));
    bus.subscribe((e) => b.push(e));
    bus.publish("member", { n: 1 });
    offA();
    bus.publish("member", { n: 2 });
    expect(a.map((e) => e.id)).toEqual([1]);
    expect(b.map((e) => e.id)).toEqual([1, 2]);
    expect(b[0]).toEqual({ id: 1, type: "member", time: "2026-01-01T00:00:00.000Z", data: { n: 1 } });
  });

  it("since(id) replays what came after id, [] when up to date, null when the id is too old or unknown", () => {
    const bus = new EventBus(3);
    for (let i = 0; i < 5; i++) bus.publish("member", i);
    expect(bus.since(5)).toEqual([]);
    expect(bus.since(2)!.map((e) => e.id)).toEqual([3, 4, 5]);
    expect(bus.since(1)).toBeNull();
    expect(bus.since(0)).toBeNull();
    expect(bus.since(9)).toBeNull();
    expect(bus.since(-1)).toBeNull();
    expect(bus.since(2.5)).toBeNull();
  });

  it("transient events reach subscribers but are not replayed nor push kept events out", () => {
    const bus = new EventBus(2);
    const seen: string[] = [];
    bus.subscribe((e) => seen.push(e.type));
    bus.publish("member", 1);
    for (let i = 0; i < 10; i++) bus.publish("metrics", i, { transient: true });
    bus.publish("leader", 2);
    expect(seen.length).toBe(12);
    expect(bus.since(0)!.map((e) => e.type)).toEqual(["member", "leader"]);
    expect(bus.since(5)!.map((e) => e.id)).toEqual([12]);
  });

  it("a throwing subscriber does not stop the others", () => {
    const bus = new EventBus();
    let got = 0;
    bus.subscribe(() => {
      throw new Error("boom");
    });
    bus.subscribe(() => (got += 1));
    bus.publish("x", null);
    expect(got).toBe(1);
  });

  it("tells watchers how many subscribers there are", () => {
    const bus = new EventBus();
    const counts: number[] = [];
    bus.watchSubscribers((n) => counts.push(n));
    const off1 = bus.subscribe(() => {});
    const off2 = bus.subscribe(() => {});
    off1();
    off1();
    off2();
    expect(counts).toEqual([1, 2, 1, 0]);
  });
});

class ScriptedMembership implements MembershipSource {
  readonly localId = "a";
  views: MemberView[] = [];
  private listener: () => void = () => {};
  members(): MemberView[] {
    return this.views;
  }
  onChange(listener: () => void): () => void {
    this.listener = listener;
    return () => {};
  }
  set(views: MemberView[]): void {
    this.views = views;
    this.listener();
  }
}

const meta = (role: "coordinator" | "worker", services: string[]): NodeMeta => ({
  role,
  version: "1",
  started_at: 1,
  services: services.map((name) => ({ name, version: "1", methods: [] })),
});
const view = (nodeId: string, state: MemberView["state"], m: NodeMeta): MemberView => ({ nodeId, address: `127.0.0.1:${nodeId.length}`, state, incarnation: 0, meta: m, lastChange: 0 });

describe("membership events", () => {
  it("publishes a member event per state change, leader changes and services coming and going", () => {
    const source = new ScriptedMembership();
    const bus = new EventBus();
    let leader: string | null = null;
    const events: ClusterEvent[] = [];
    bus.subscribe((e) => events.push(e));
    const publisher = new MembershipEventPublisher(source, () => leader, bus);
    source.views = [view("a", "alive", meta("coordinator", ["system"]))];
    leader = "a";
    publisher.start();
    source.set([view("a", "alive", meta("coordinator", ["system"])), view("w1", "alive", meta("worker", ["system"]))]);
    source.set([view("a", "alive", meta("coordinator", ["system"])), view("w1", "alive", meta("worker", ["system", "calc"]))]);
    source.set([view("a", "alive", meta("coordinator", ["system"])), view("w1", "suspect", meta("worker", ["system", "calc"]))]);
    leader = null;
    source.set([view("a", "dead", meta("coordinator", ["system"])), view("w1", "dead", meta("worker", ["system"]))]);
    const summary = events.map((e) => [e.type, e.data]);
    expect(summary).toEqual([
      ["member", { node_id: "a", state: "alive", previous: null, role: "coordinator", address: "127.0.0.1:1" }],
      ["leader", { leader: "a", previous: null }],
      ["member", { node_id: "w1", state: "alive", previous: null, role: "worker", address: "127.0.0.1:2" }],
      ["service", { node_id: "w1", service: "calc", status: "running" }],
      ["member", { node_id: "w1", state: "suspect", previous: "alive", role: "worker", address: "127.0.0.1:2" }],
      ["member", { node_id: "a", state: "dead", previous: "alive", role: "coordinator", address: "127.0.0.1:1" }],
      ["member", { node_id: "w1", state: "dead", previous: "suspect", role: "worker", address: "127.0.0.1:2" }],
      ["service", { node_id: "w1", service: "calc", status: "stopped" }],
      ["leader", { leader: null, previous: "a" }],
    ]);
  });
});
