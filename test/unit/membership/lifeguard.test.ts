import { afterEach, describe, expect, it } from "vitest";
import { SimCluster, buildCluster } from "./sim.js";

let sim: SimCluster | null = null;
afterEach(async () => {
  await sim?.shutdown();
  sim = null;
});

describe("Lifeguard under loss and a stalling member", () => {
  it(
    "no false positive over 10 simulated minutes with 10% loss and a member stalling 1–1.5 s at a time",
    async () => {
      sim = new SimCluster({ seed: 1 });
      const names = await buildCluster(sim, 30);
      expect(await sim.runUntil(() => sim!.converged(names, new Set(names)), 60_000)).toBeGreaterThanOrEqual(0);
      await sim.run(5_000);
      sim.net.setDefaultLink({ loss: 0.1 });
      const deaths: string[] = [];
      let suspicions = 0;
      for (const n of names) {
        sim.nodes.get(n)!.onChange((m) => {
          if (m.state === "dead") deaths.push(`${n} saw ${m.name} dead at ${sim!.clock.now()}`);
          if (m.state === "suspect") suspicions++;
        });
      }
      const staller = SimCluster.address("n7");
      let stalls = 0;
      const end = sim.clock.now() + 600_000;
      let nextStall = sim.clock.now() + 5_000;
      while (sim.clock.now() < end) {
        if (sim.clock.now() >= nextStall) {
          // Its transport delivers nothing and its timers do not fire while stalled.
          const ms = 1_000 + sim.random.next() * 500;
          sim.net.stall(staller, ms);
          stalls++;
          nextStall = sim.clock.now() + ms + 5_000 + sim.random.next() * 15_000;
        }
        await sim.run(100, 20);
      }
      expect(stalls).toBeGreaterThan(30);
      expect(suspicions).toBeGreaterThan(0); // the detector did fire; refutations won every time
      expect(deaths).toEqual([]);
      expect(sim.converged(names, new Set(names))).toBe(true);
    },
    60_000,
  );

  it("a blocked A→B link keeps B alive thanks to indirect probes", async () => {
    sim = new SimCluster({ seed: 4 });
    const names = await buildCluster(sim, 8);
    await sim.runUntil(() => sim!.converged(names, new Set(names)), 30_000);
    sim.net.block(SimCluster.address("n1"), SimCluster.address("n2"));
    let deaths = 0;
    for (const n of names) sim.nodes.get(n)!.onChange((m) => void (m.state === "dead" && deaths++));
    await sim.run(120_000);
    expect(deaths).toBe(0);
    expect(sim.view("n1", "n2")?.state).toBe("alive");
  });
});
