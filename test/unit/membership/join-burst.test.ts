import { afterEach, describe, expect, it } from "vitest";
import { retransmitLimit } from "../../../src/cluster/membership/config.js";
import { SimCluster, buildCluster } from "./sim.js";

let sim: SimCluster | null = null;
afterEach(async () => {
  await sim?.shutdown();
  sim = null;
});

describe("members that join while news is spreading", () => {
  it("a joiner whose seed missed an earlier join learns it from its follow-up push-pull", async () => {
    sim = new SimCluster({ seed: 3 });
    const names = await buildCluster(sim, 30);
    expect(await sim.runUntil(() => sim!.converged(names, new Set(names)), 30_000)).toBeGreaterThanOrEqual(0);
    const seed = SimCluster.address("n7");
    // n7 hears nothing while "late" joins and its news spreads (gossip of 31 members is done
    // within a few rounds), then "last" joins through n7.
    const late = sim.add("late");
    for (const n of [...names, "late"]) if (n !== "n7") sim.net.block(SimCluster.address(n), seed);
    void late.join([SimCluster.address("n3")]);
    await sim.run(1_000);
    expect(names.filter((n) => n !== "n7").every((n) => sim!.view(n, "late")?.state === "alive")).toBe(true);
    expect(sim.view("n7", "late")).toBeUndefined();
    sim.net.heal();
    const last = sim.add("last");
    const joined = last.join([seed]);
    await sim.run(20, 5);
    expect(await joined).toBe(1);
    expect(sim.view("last", "late")).toBeUndefined(); // the seed could not tell it

    // Everyone who knows "late" is done gossiping it; only the follow-up push-pull can tell "last".
    const followUpMs = retransmitLimit(last.config.retransmitMult, names.length + 2) * last.config.gossipIntervalMs;
    const took = await sim.runUntil(() => sim!.view("last", "late")?.state === "alive", 30_000, 10);
    expect(took).toBeGreaterThanOrEqual(0);
    expect(took).toBeLessThanOrEqual(followUpMs + 500);
  });

  // A join every 10 ms saturates gossip (every join is news each member sends 12 times);
  // members that joined late missed news their seed had not heard yet. Seed 42 left one
  // member without five others for 10 s; 23, 35 and 40 did the same for 9–25 s.
  for (const seed of [42, 23, 35, 40]) {
    it(`100 members joining every 10 ms (seed ${seed}) all see each other alive within 2 s of the last join`, async () => {
      sim = new SimCluster({ seed });
      const names = await buildCluster(sim, 100, 10);
      const took = await sim.runUntil(() => sim!.converged(names, new Set(names)), 60_000, 50);
      expect(took).toBeGreaterThanOrEqual(0);
      expect(took).toBeLessThanOrEqual(2_000);
    });
  }
});
