import { afterEach, describe, expect, it } from "vitest";
import { LAN_DEFAULTS } from "../../../src/cluster/membership/config.js";
import { MessageType } from "../../../src/cluster/membership/messages.js";
import { buildCluster, SimCluster } from "./sim.js";
import { RawPeer } from "./raw-peer.js";

const allAlive = (names: string[]) => new Set(names);

/** Restarts, leaves and reaping: a node finds its cluster again after any restart. */
describe("membership: rejoin and reaping", () => {
  let sim: SimCluster | null = null;

  afterEach(async () => {
    await sim?.shutdown();
    sim = null;
  });

  async function cluster(seed: number, n: number): Promise<string[]> {
    sim = new SimCluster({ seed });
    const names = await buildCluster(sim, n);
    expect(await sim.runUntil(() => sim!.converged(names, allAlive(names)), 30_000)).toBeGreaterThanOrEqual(0);
    return names;
  }

  async function leaveAndStop(name: string): Promise<void> {
    const node = sim!.nodes.get(name)!;
    await Promise.all([node.leave(2_000), sim!.run(2_000)]);
    await node.shutdown();
  }

  it("a member that left and restarts with no seeds is re-contacted by the others and rejoins", async () => {
    const names = await cluster(31, 6);
    await leaveAndStop("n0");
    const others = names.filter((n) => n !== "n0");
    expect(others.every((n) => sim!.view(n, "n0")?.state === "left")).toBe(true);
    sim!.add("n0"); // a new process, incarnation 0, joining nobody (a coordinator without --coord)
    // Reconnects run every 10 s ± 25 %: the first one after the restart brings it back.
    const took = await sim!.runUntil(() => sim!.converged(names, allAlive(names)), 20_000);
    expect(took).toBeGreaterThanOrEqual(0);
    expect(took).toBeLessThanOrEqual(13_000);
    expect(sim!.nodes.get("n0")!.localMember().incarnation).toBeGreaterThan(0); // it out-bid its leave
  });

  it("a member that left, was reaped and restarts with no seeds still rejoins", async () => {
    const names = await cluster(37, 5);
    await leaveAndStop("n2");
    await sim!.run(LAN_DEFAULTS.gossipToTheDeadMs + 3_000);
    const others = names.filter((n) => n !== "n2");
    expect(others.every((n) => sim!.view(n, "n2") === undefined)).toBe(true);
    sim!.add("n2");
    const took = await sim!.runUntil(() => sim!.converged(names, allAlive(names)), 20_000);
    expect(took).toBeGreaterThanOrEqual(0);
    expect(took).toBeLessThanOrEqual(13_000);
  });

  it("left members are not re-contacted forever", async () => {
    const names = await cluster(41, 3);
    await leaveAndStop("n1");
    const address = SimCluster.address("n1");
    const knocks: number[] = [];
    const exchange = sim!.net.exchange.bind(sim!.net);
    sim!.net.exchange = (from, to, data, timeoutMs) => {
      if (to === address) knocks.push(sim!.clock.now());
      return exchange(from, to, data, timeoutMs);
    };
    await sim!.run(60_000, 200);
    expect(knocks.length).toBeGreaterThanOrEqual(8); // both others, about every 10 s
    knocks.length = 0;
    await sim!.run(LAN_DEFAULTS.leftReconnectTimeoutMs, 1_000);
    const late = knocks.filter((t) => t > sim!.clock.now() - 60_000);
    expect(late).toEqual([]);
    expect(names.filter((n) => n !== "n1").every((n) => sim!.view(n, "n1") === undefined)).toBe(true);
  });

  it("reconnect rounds are jittered: members that lost a peer together do not knock in lockstep", async () => {
    const names = await cluster(43, 5);
    const victim = SimCluster.address("n4");
    await sim!.nodes.get("n4")!.shutdown();
    const others = names.filter((n) => n !== "n4");
    expect(await sim!.runUntil(() => others.every((n) => sim!.view(n, "n4")?.state === "dead"), 30_000)).toBeGreaterThan(0);
    const knocks = new Map<string, number[]>();
    const exchange = sim!.net.exchange.bind(sim!.net);
    sim!.net.exchange = (from, to, data, timeoutMs) => {
      if (to === victim) knocks.set(from, [...(knocks.get(from) ?? []), sim!.clock.now()]);
      return exchange(from, to, data, timeoutMs);
    };
    await sim!.run(100_000, 100);
    const gaps = [...knocks.values()].flatMap((times) => times.slice(1).map((t, i) => t - times[i]!));
    expect(gaps.length).toBeGreaterThanOrEqual(20);
    for (const gap of gaps) {
      expect(gap).toBeGreaterThanOrEqual(0.75 * LAN_DEFAULTS.reconnectIntervalMs - 200);
      expect(gap).toBeLessThanOrEqual(1.25 * LAN_DEFAULTS.reconnectIntervalMs + 200);
    }
    expect(new Set(gaps.map((g) => Math.round(g / 100))).size).toBeGreaterThan(gaps.length / 2);
  });

  it("a reaped member stays reaped on every member: stale news of it being alive is ignored", async () => {
    const names = await cluster(47, 5);
    const leaver = sim!.nodes.get("n3")!;
    const incarnation = leaver.localMember().incarnation;
    await leaveAndStop("n3");
    await sim!.run(LAN_DEFAULTS.gossipToTheDeadMs + 3_000);
    const others = names.filter((n) => n !== "n3");
    expect(others.every((n) => sim!.view(n, "n3") === undefined)).toBe(true);
    // A member that missed the leave still holds n3 alive and tells everyone, by gossip and push-pull.
    const stale = new RawPeer(sim!.net, "stale", "stale:7946", sim!.keyring, sim!.clock);
    const alive = { type: MessageType.Alive, name: "n3", address: SimCluster.address("n3"), incarnation, meta: new Uint8Array() } as const;
    for (const n of others) {
      stale.send(SimCluster.address(n), [alive]);
      void stale.pushPull(SimCluster.address(n), [{ name: "n3", address: alive.address, incarnation, state: "alive", meta: alive.meta }]).catch(() => undefined);
    }
    await sim!.run(20_000);
    expect(others.map((n) => sim!.view(n, "n3")?.state ?? "reaped")).toEqual(others.map(() => "reaped"));
  });
});
