import { afterEach, describe, expect, it } from "vitest";
import { SimCluster, buildCluster } from "./sim.js";

let sim: SimCluster | null = null;
afterEach(async () => {
  await sim?.shutdown();
  sim = null;
});

describe("membership in a simulated cluster", () => {
  it("small cluster converges after joins", async () => {
    sim = new SimCluster({ seed: 7 });
    const names = await buildCluster(sim, 10);
    const took = await sim.runUntil(() => sim!.converged(names, new Set(names)), 30_000);
    expect(took).toBeGreaterThanOrEqual(0);
  });
});
