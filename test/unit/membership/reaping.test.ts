import { afterEach, describe, expect, it } from "vitest";
import pino from "pino";
import { GossipMembership } from "../../../src/cluster/gossip-membership.js";
import { LAN_DEFAULTS } from "../../../src/cluster/membership/config.js";
import { ClusterRegistry } from "../../../src/cluster/registry.js";
import type { NodeMeta } from "../../../src/cluster/types.js";
import { EventBus, type ClusterEvent } from "../../../src/events/bus.js";
import { MembershipEventPublisher } from "../../../src/events/membership-events.js";
import { NodeMetrics } from "../../../src/metrics/metrics.js";
import { Keyring } from "../../../src/security/keyring.js";
import { MemoryNetwork } from "../../../src/transport/memory.js";
import { UpgradeRouter } from "../../../src/transport/upgrade.js";
import { FakeClock } from "../../../src/util/clock.js";
import { SeededRandom } from "../../../src/util/random.js";

const logger = pino({ level: "silent" });

interface SimNode {
  membership: GossipMembership;
  registry: ClusterRegistry;
  events: ClusterEvent[];
  forgotten: string[];
}

/**
 * The node-level view of reaping: GossipMembership, the registry (routing, /cluster/nodes) and
 * the event publisher over a simulated network on a fake clock. A quiet cluster is the case
 * that matters: when nothing else changes, the reap itself must reach every view.
 */
describe("reaping reaches the registry, routing and events on every node", () => {
  const clock = new FakeClock(0);
  const random = new SeededRandom(7);
  const net = new MemoryNetwork(clock, random);
  const keyring = Keyring.fromSecret("reaping-test");
  const nodes = new Map<string, SimNode>();

  afterEach(async () => {
    for (const n of nodes.values()) await n.membership.shutdown();
    nodes.clear();
  });

  function meta(name: string): NodeMeta {
    const services = name === "w2" ? [{ name: "only_on_w2", version: "1", methods: [{ name: "hello", public: true, idempotent: true }] }] : [];
    return { role: name === "c0" ? "coordinator" : "worker", version: "t", started_at: 0, services };
  }

  async function add(name: string, seeds: string[]): Promise<SimNode> {
    const address = `${name}:7946`;
    const membership = new GossipMembership({
      nodeId: name,
      bindAddress: name,
      port: 7946,
      advertise: name,
      seeds,
      keyring,
      upgrades: new UpgradeRouter(),
      metrics: new NodeMetrics(name, false),
      logger,
      clock: net.clockFor(address),
      random: new SeededRandom(Math.floor(random.next() * 2 ** 32)),
      transport: net.transport(address),
    });
    const registry = new ClusterRegistry(membership);
    const bus = new EventBus(1024, () => clock.now());
    const node: SimNode = { membership, registry, events: [], forgotten: [] };
    bus.subscribe((e) => node.events.push(e));
    membership.onForget((id) => node.forgotten.push(id));
    await membership.start(meta(name));
    new MembershipEventPublisher(membership, () => registry.leader(), bus).start();
    nodes.set(name, node);
    return node;
  }

  async function run(ms: number, step = 50): Promise<void> {
    for (let t = 0; t < ms; t += step) {
      clock.advance(step);
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  async function runUntil(done: () => boolean, limitMs: number): Promise<boolean> {
    for (let t = 0; t < limitMs && !done(); t += 50) await run(50);
    return done();
  }

  it("a member that left is dropped by every node's registry when reaped, with nothing else changing", async () => {
    await add("c0", []);
    await add("w1", ["c0:7946"]);
    const w2 = await add("w2", ["c0:7946"]);
    const ids = ["c0", "w1", "w2"];
    const allSeeAll = () => [...nodes.values()].every((n) => ids.every((id) => n.registry.member(id)?.state === "alive"));
    expect(await runUntil(allSeeAll, 20_000)).toBe(true);
    const survivors = [nodes.get("c0")!, nodes.get("w1")!];
    expect(survivors.every((n) => n.registry.hasService("only_on_w2"))).toBe(true);

    await Promise.all([w2.membership.leave(2_000), run(2_000)]);
    await w2.membership.shutdown();
    nodes.delete("w2");
    expect(survivors.map((n) => n.registry.member("w2")?.state)).toEqual(["left", "left"]);
    // Until reaped, its services still exist (a call gets 503, not 404).
    expect(survivors.every((n) => n.registry.hasService("only_on_w2"))).toBe(true);

    // Reaped gossipToTheDead after each learnt of the leave; nothing else happens meanwhile.
    await run(LAN_DEFAULTS.gossipToTheDeadMs + 3_000);
    for (const n of survivors) {
      expect(n.forgotten).toEqual(["w2"]);
      expect(n.registry.member("w2")).toBeUndefined();
      expect(n.registry.members().map((m) => m.nodeId).sort()).toEqual(["c0", "w1"]);
      expect(n.registry.hasService("only_on_w2")).toBe(false);
      expect(n.registry.hostsOf("only_on_w2")).toEqual([]);
      const removed = n.events.filter((e) => e.type === "member_removed").map((e) => e.data);
      expect(removed).toEqual([{ node_id: "w2", previous: "left" }]);
    }
  });

  it("a dead member is reaped consistently: every survivor drops it within the reap delay of learning it", async () => {
    await add("c0", []);
    await add("w1", ["c0:7946"]);
    await add("w3", ["c0:7946"]);
    const w2 = await add("w2", ["w1:7946"]);
    const ids = ["c0", "w1", "w2", "w3"];
    const allSeeAll = () => [...nodes.values()].every((n) => ids.every((id) => n.registry.member(id)?.state === "alive"));
    expect(await runUntil(allSeeAll, 20_000)).toBe(true);

    await w2.membership.shutdown(); // a crash: no leave
    nodes.delete("w2");
    const survivors = [...nodes.values()];
    expect(await runUntil(() => survivors.every((n) => n.registry.member("w2")?.state === "dead"), 15_000)).toBe(true);
    const deadAt = clock.now();
    const gone = () => survivors.every((n) => n.registry.member("w2") === undefined);
    expect(await runUntil(gone, LAN_DEFAULTS.gossipToTheDeadMs + 5_000)).toBe(true);
    expect(clock.now() - deadAt).toBeGreaterThanOrEqual(LAN_DEFAULTS.gossipToTheDeadMs - 5_000);
    // And it stays gone (tombstones keep stale news from bringing it back).
    await run(20_000, 200);
    expect(gone()).toBe(true);
    for (const n of survivors) expect(n.forgotten).toEqual(["w2"]);
  });
});
