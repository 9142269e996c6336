import { afterEach, describe, expect, it } from "vitest";
import { SimCluster, buildCluster } from "./sim.js";

let sim: SimCluster | null = null;
afterEach(async () => {
  await sim?.shutdown();
  sim = null;
});

function allAlive(names: string[]): Set<string> {
  return new Set(names);
}

describe("membership in a simulated cluster", () => {
  it("a small cluster converges after joins", async () => {
    sim = new SimCluster({ seed: 7 });
    const names = await buildCluster(sim, 10);
    const took = await sim.runUntil(() => sim!.converged(names, allAlive(names)), 30_000);
    expect(took).toBeGreaterThanOrEqual(0);
    expect(took).toBeLessThan(3_000);
  });

  it("a crashed member is declared dead by every member within 5 s (N = 100, defaults)", async () => {
    sim = new SimCluster({ seed: 11 });
    const names = await buildCluster(sim, 100);
    expect(await sim.runUntil(() => sim!.converged(names, allAlive(names)), 60_000)).toBeGreaterThanOrEqual(0);
    await sim.run(5_000);
    const victim = "n42";
    const others = names.filter((n) => n !== victim);
    let falseDeaths = 0;
    for (const n of others) {
      sim.nodes.get(n)!.onChange((m) => {
        if (m.name !== victim && m.state === "dead") falseDeaths++;
      });
    }
    await sim.nodes.get(victim)!.shutdown();
    const took = await sim.runUntil(() => others.every((n) => sim!.view(n, victim)?.state === "dead"), 30_000, 10);
    expect(took).toBeGreaterThan(0);
    expect(took).toBeLessThanOrEqual(5_000);
    expect(falseDeaths).toBe(0);
  });

  it("a metadata change reaches everyone within a few gossip rounds", async () => {
    sim = new SimCluster({ seed: 3 });
    const names = await buildCluster(sim, 50);
    await sim.runUntil(() => sim!.converged(names, allAlive(names)), 60_000);
    const meta = new TextEncoder().encode("v2");
    const source = sim.nodes.get("n5")!;
    source.updateMeta(meta);
    expect(source.localMember().incarnation).toBe(1);
    const took = await sim.runUntil(() => names.every((n) => new TextDecoder().decode(sim!.view(n, "n5")!.meta) === "v2"), 10_000, 10);
    expect(took).toBeGreaterThanOrEqual(0);
    expect(took).toBeLessThanOrEqual(10 * sim.nodes.get("n0")!.config.gossipIntervalMs);
  });

  it("a leaving member is seen as left by everyone", async () => {
    sim = new SimCluster({ seed: 5 });
    const names = await buildCluster(sim, 20);
    await sim.runUntil(() => sim!.converged(names, allAlive(names)), 30_000);
    const leaving = sim.nodes.get("n3")!;
    const done = leaving.leave(2_000);
    await sim.run(1_000);
    await done;
    await leaving.shutdown();
    const others = names.filter((n) => n !== "n3");
    const took = await sim.runUntil(() => others.every((n) => sim!.view(n, "n3")?.state === "left"), 5_000);
    expect(took).toBeGreaterThanOrEqual(0);
  });

  it("partition then heal gives one cluster again", async () => {
    sim = new SimCluster({ seed: 9 });
    const names = await buildCluster(sim, 20);
    await sim.runUntil(() => sim!.converged(names, allAlive(names)), 30_000);
    const a = names.slice(0, 10).map(SimCluster.address);
    const b = names.slice(10).map(SimCluster.address);
    sim.net.partition(a, b);
    // Long enough for each side to declare the other dead and reap it.
    const split = await sim.runUntil(
      () => sim!.converged(names.slice(0, 10), allAlive(names.slice(0, 10))) && sim!.converged(names.slice(10), allAlive(names.slice(10))),
      120_000,
    );
    expect(split).toBeGreaterThan(0);
    await sim.run(40_000);
    sim.net.heal();
    const healed = await sim.runUntil(() => sim!.converged(names, allAlive(names)), 120_000);
    expect(healed).toBeGreaterThanOrEqual(0);
  });

  it("a dead member that comes back is re-contacted and rejoins", async () => {
    sim = new SimCluster({ seed: 13 });
    const names = await buildCluster(sim, 10);
    await sim.runUntil(() => sim!.converged(names, allAlive(names)), 30_000);
    const a = SimCluster.address("n4");
    // Cut n4 off completely (both directions) until it is declared dead, then reconnect.
    sim.net.partition([a], names.filter((n) => n !== "n4").map(SimCluster.address));
    const others = names.filter((n) => n !== "n4");
    expect(await sim.runUntil(() => others.every((n) => sim!.view(n, "n4")?.state === "dead"), 60_000)).toBeGreaterThan(0);
    sim.net.heal();
    const back = await sim.runUntil(() => sim!.converged(names, allAlive(names)), 60_000);
    expect(back).toBeGreaterThanOrEqual(0);
  });

  it("a restart under the same name at the same address takes over cleanly", async () => {
    sim = new SimCluster({ seed: 17 });
    const names = await buildCluster(sim, 10);
    await sim.runUntil(() => sim!.converged(names, allAlive(names)), 30_000);
    sim.nodes.get("n3")!.updateMeta(new TextEncoder().encode("old")); // its previous life reached incarnation 1
    await sim.run(2_000);
    await sim.nodes.get("n3")!.shutdown(); // crash: no leave
    await sim.run(500);
    const reborn = sim.add("n3"); // a new process: incarnation 0
    expect(await Promise.all([reborn.join([SimCluster.address("n0")]), sim.run(1_000)]).then(([r]) => r)).toBe(1);
    const took = await sim.runUntil(() => sim!.converged(names, allAlive(names)), 30_000);
    expect(took).toBeGreaterThanOrEqual(0);
    expect(reborn.localMember().incarnation).toBeGreaterThanOrEqual(2); // it out-bid its previous life
    for (const n of names) expect(sim.view(n, "n3")?.incarnation).toBe(reborn.localMember().incarnation);
  });

  it("a restart under the same name at a new address is accepted", async () => {
    sim = new SimCluster({ seed: 19 });
    const names = await buildCluster(sim, 10);
    await sim.runUntil(() => sim!.converged(names, allAlive(names)), 30_000);
    await sim.nodes.get("n3")!.shutdown();
    await sim.run(500);
    const moved = sim.add("n3", { address: "n3-new:7946" });
    void moved.join([SimCluster.address("n0")]);
    const took = await sim.runUntil(
      () => sim!.converged(names, allAlive(names)) && names.every((n) => sim!.view(n, "n3")?.address === "n3-new:7946"),
      60_000,
    );
    expect(took).toBeGreaterThanOrEqual(0);
  });

  it("batches within maxPacketSize minus the seal overhead", async () => {
    sim = new SimCluster({ seed: 29, secret: "k", maxPacketSize: 200 });
    let largest = 0;
    const original = sim.net.sendPacket.bind(sim.net);
    sim.net.sendPacket = (from, to, data) => {
      largest = Math.max(largest, data.length);
      original(from, to, data);
    };
    const names: string[] = [];
    for (let i = 0; i < 12; i++) {
      const name = `n${i}`;
      const node = sim.add(name, { meta: new Uint8Array(40).fill(i) });
      if (i > 0) void node.join([SimCluster.address("n0")]);
      names.push(name);
      await sim.run(10, 10);
    }
    expect(await sim.runUntil(() => sim!.converged(names, allAlive(names)), 30_000)).toBeGreaterThanOrEqual(0);
    expect(largest).toBeGreaterThan(150);
    expect(largest).toBeLessThanOrEqual(200);
  });

  it("joinWithRetry keeps trying with backoff until a seed answers", async () => {
    sim = new SimCluster({ seed: 31, config: { joinRetry: { initialMs: 500, maxMs: 4_000 } } });
    sim.add("n0");
    const late = sim.add("n1");
    sim.net.partition([SimCluster.address("n0")], [SimCluster.address("n1")]);
    late.joinWithRetry([SimCluster.address("n0")]);
    await sim.run(20_000);
    expect(late.members()).toHaveLength(1);
    sim.net.heal();
    const took = await sim.runUntil(() => sim!.converged(["n0", "n1"], allAlive(["n0", "n1"])), 20_000);
    expect(took).toBeGreaterThanOrEqual(0);
    expect(took).toBeLessThanOrEqual(4_000 + 3_000 + 500); // one backoff step + the exchange timeout
  });

  // memberlist's dissemination scenarios: within 2·(3·⌈log2 N⌉ + 1) gossip intervals.
  for (const [n, loss] of [
    [10, 0],
    [10, 0.25],
    [10, 0.5],
    [50, 0.1],
  ] as const) {
    it(`an update reaches all ${n} members at ${loss * 100}% loss within 2·(3·⌈log2 N⌉+1) gossip intervals`, async () => {
      sim = new SimCluster({ seed: 37 + n });
      const names = await buildCluster(sim, n);
      await sim.runUntil(() => sim!.converged(names, allAlive(names)), 30_000);
      await sim.run(2_000);
      sim.net.setDefaultLink({ loss });
      sim.nodes.get("n1")!.updateMeta(new TextEncoder().encode("new"));
      const bound = 2 * (3 * Math.ceil(Math.log2(n)) + 1) * sim.nodes.get("n0")!.config.gossipIntervalMs;
      const took = await sim.runUntil(() => names.every((m) => sim!.view(m, "n1")?.incarnation === 1), 30_000, 10);
      expect(took).toBeGreaterThanOrEqual(0);
      expect(took).toBeLessThanOrEqual(bound);
    });
  }
});
