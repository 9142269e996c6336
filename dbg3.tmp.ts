import { SimCluster, buildCluster } from "./test/unit/membership/sim.js";
const [N, stallMin, stallMax, loss, seed] = process.argv.slice(2).map(Number);
const sim = new SimCluster({ seed });
const names = await buildCluster(sim, N);
await sim.runUntil(() => sim.converged(names, new Set(names)), 60_000);
await sim.run(5000);
sim.net.setDefaultLink({ loss });
let dead = 0, suspect = 0, refutes = 0;
for (const n of names) sim.nodes.get(n)!.onChange((m, p) => { if (m.state === "dead") { dead++; console.log(sim.clock.now(), n, "sees dead", m.name); } if (m.state === "suspect") suspect++; });
const victim = SimCluster.address("n7");
let stalls = 0;
const t0 = performance.now();
const end = sim.clock.now() + 600_000;
let nextStall = sim.clock.now() + 5000;
while (sim.clock.now() < end) {
  if (sim.clock.now() >= nextStall) { const d = stallMin + sim.random.next() * (stallMax - stallMin); sim.net.stall(victim, d); stalls++; nextStall = sim.clock.now() + d + 5000 + sim.random.next() * 15000; }
  await sim.run(100, 20);
}
console.log({ N, stallMin, stallMax, loss, dead, suspect, stalls, wall: performance.now() - t0, inc: sim.nodes.get("n7")!.localMember().incarnation, health: names.map(n => sim.nodes.get(n)!.healthScore()).join("") });
await sim.shutdown();
