import { SimCluster, buildCluster } from "./test/unit/membership/sim.js";
const sim = new SimCluster({ seed: 11 });
const names = await buildCluster(sim, 100);
for (const t of [1000, 2000, 4000, 8000]) {
  await sim.run(t - (sim.clock.now() - 1000) );
  const missing: Record<string, number> = {}; let viewsIncomplete = 0;
  for (const n of names) { const have = new Set(sim.nodes.get(n)!.members().filter(m => m.state === "alive").map(m => m.name)); let inc = false; for (const x of names) if (!have.has(x)) { missing[x] = (missing[x] ?? 0) + 1; inc = true; } if (inc) viewsIncomplete++; }
  console.log(sim.clock.now(), viewsIncomplete, JSON.stringify(missing).slice(0, 300));
}
await sim.shutdown();
