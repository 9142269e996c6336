import { SimCluster, buildCluster } from "./test/unit/membership/sim.js";
const [N, mult, interval, seeds] = process.argv.slice(2).map(Number);
const res: number[] = [];
for (let seed = 1; seed <= seeds; seed++) {
  const sim = new SimCluster({ seed, config: { suspicionMult: mult, probeIntervalMs: interval } });
  const names = await buildCluster(sim, N);
  await sim.runUntil(() => sim.converged(names, new Set(names)), 60_000);
  await sim.run(3000 + seed * 137);
  const victim = names[1 + Math.floor(sim.random.next() * (N - 1))]!;
  const others = names.filter((n) => n !== victim);
  await sim.nodes.get(victim)!.shutdown();
  res.push(await sim.runUntil(() => others.every((n) => sim.view(n, victim)?.state === "dead"), 30_000, 10));
  await sim.shutdown();
}
console.log(N, mult, interval, res.join(" "), "max", Math.max(...res));
