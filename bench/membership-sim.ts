/**
 * Membership in the simulator (FakeClock + MemoryNetwork, LAN_DEFAULTS, no loss, 1 ms links):
 * convergence after joins, crash detection, update dissemination and steady-state traffic,
 * next to what SWIM predicts. Run: npx tsx bench/membership-sim.ts [N ...]
 * (default 10 100 1000. N = 5,000 simulates ~400 M gossip receptions and holds N² member entries
 * (several GB): run it as `node --max-old-space-size=12000 node_modules/tsx/dist/cli.mjs bench/membership-sim.ts 5000`,
 * or `NODE_OPTIONS=--max-old-space-size=12000 BENCH_MEMBERSHIP_5000=1 npm run bench -- membership-sim`,
 * which adds it to the defaults).
 * Every size is bounded: past BENCH_MEMBERSHIP_LIMIT_S seconds of wall time (default 600) for one
 * N, the bench prints the rows it has, the phase that size reached, and exits with status 2.
 * --memberlist runs memberlist's own LAN profile instead of our LAN_DEFAULTS, for comparison.
 * Steady-state traffic is measured over one push-pull interval (scaled with N), so the
 * full-state syncs are counted at their long-run rate next to the gossip packets.
 */
import { LAN_DEFAULTS, pushPullScale, suspicionTimeout, type MembershipConfig } from "../src/cluster/membership/config.js";
import { loadavg } from "node:os";
import { SimCluster, buildCluster } from "../test/unit/membership/sim.js";

interface Row {
  n: number;
  convergeMs: number;
  disseminateMs: number;
  crashMs: number;
  packetsPerMemberPerS: number;
  bytesPerMemberPerS: number;
  /** Of which full-state push-pull (both directions). */
  syncBytesPerMemberPerS: number;
  steadyS: number;
  wallS: number;
}

const MIN_STEADY_MS = 30_000;
const MEMBERLIST_LAN: Partial<MembershipConfig> = {
  probeIntervalMs: 1_000,
  probeTimeoutMs: 500,
  suspicionMult: 4,
  gossipIntervalMs: 200,
};
const profile: MembershipConfig = process.argv.includes("--memberlist") ? { ...LAN_DEFAULTS, ...MEMBERLIST_LAN } : LAN_DEFAULTS;

/** What the size being measured is doing (printed when it runs out of time). */
let phase = "starting";

async function measure(n: number): Promise<Row> {
  const wall = performance.now();
  const sim = new SimCluster({ seed: 42, config: profile });
  phase = "joining";
  const names = await buildCluster(sim, n, 10);
  const all = new Set(names);
  phase = "converging";
  const convergeMs = await sim.runUntil(() => sim.converged(names, all), 300_000, 50);
  await sim.run(5_000, 50);

  // Steady state: nothing changes, only probes (and their acks / push-pulls) flow; one
  // push-pull interval, so that each member syncs about once in it.
  const steadyMs = Math.max(MIN_STEADY_MS, pushPullScale(profile.pushPullIntervalMs, n));
  sim.net.resetTraffic();
  phase = "steady state";
  await sim.run(steadyMs, 100);
  const t = sim.net.traffic();
  const seconds = steadyMs / 1000;
  const packetsPerMemberPerS = t.packetsOut / n / seconds;
  const syncBytesPerMemberPerS = (t.exchangeBytesOut + t.exchangeBytesBack) / n / seconds;
  const bytesPerMemberPerS = t.bytesOut / n / seconds + syncBytesPerMemberPerS;

  // One metadata update: time until every member has it.
  const source = sim.nodes.get(names[n - 1]!)!;
  source.updateMeta(new TextEncoder().encode("v2"));
  const name = names[n - 1]!;
  phase = "update";
  const disseminateMs = await sim.runUntil(() => names.every((m) => sim.view(m, name)?.incarnation === 1), 60_000, 10);

  // A crash (no leave): time until every other member sees it dead.
  await sim.run(2_000, 50);
  const victim = names[Math.floor(n / 2)]!;
  const others = names.filter((m) => m !== victim);
  await sim.nodes.get(victim)!.shutdown();
  phase = "crash";
  const crashMs = await sim.runUntil(() => others.every((m) => sim.view(m, victim)?.state === "dead"), 120_000, 10);

  await sim.shutdown();
  return { n, convergeMs, disseminateMs, crashMs, packetsPerMemberPerS, bytesPerMemberPerS, syncBytesPerMemberPerS, steadyS: seconds, wallS: (performance.now() - wall) / 1000 };
}

function expectation(n: number): { rounds: number; suspicionMin: number; crash: number } {
  const c = profile;
  // Fanout-3 epidemic: ≈ log_(fanout+1) N + ln N / fanout rounds (Pittel) of gossipInterval.
  const rounds = Math.log(n) / Math.log(c.gossipNodes + 1) + Math.log(n) / c.gossipNodes;
  const suspicionMin = suspicionTimeout(c.suspicionMult, n, c.probeIntervalMs);
  // First probe ≈ 1 period (random phase, many probers), a failed period, the suspicion minimum, then spread.
  const crash = 2 * c.probeIntervalMs + suspicionMin + rounds * c.gossipIntervalMs;
  return { rounds, suspicionMin, crash };
}

const sizes = process.argv.slice(2).map(Number).filter((x) => x > 1);
const ns = sizes.length > 0 ? sizes : process.env.BENCH_MEMBERSHIP_5000 ? [10, 100, 1000, 5000] : [10, 100, 1000];
const limitS = Number(process.env.BENCH_MEMBERSHIP_LIMIT_S ?? 600);
const rows: Row[] = [];
for (const n of ns) {
  const cpu = process.cpuUsage();
  // The simulation yields to the event loop between steps, so this real timer fires on time.
  const bound = setTimeout(() => {
    console.error(`N=${n} stopped: still ${phase} after ${limitS} s of wall time (${cpuSeconds(cpu).toFixed(0)} s CPU); load average ${loadavg().map((x) => x.toFixed(1)).join(" ")}`);
    printTable();
    process.exit(2);
  }, limitS * 1000);
  const row = await measure(n);
  clearTimeout(bound);
  rows.push(row);
  console.error(`N=${n} done in ${row.wallS.toFixed(1)} s wall, ${cpuSeconds(cpu).toFixed(1)} s CPU; load average ${loadavg().map((x) => x.toFixed(1)).join(" ")}`);
}
printTable();

function cpuSeconds(since: NodeJS.CpuUsage): number {
  const u = process.cpuUsage(since);
  return (u.user + u.system) / 1e6;
}

function printTable(): void {
  const s = (ms: number) => (ms < 0 ? "timeout" : `${(ms / 1000).toFixed(2)} s`);
  console.log("| N | converge after last join | update reaches all (SWIM: O(log N) rounds) | crash seen dead by all (expected) | packets / member / s | bytes / member / s (of which push-pull) | steady window | wall |");
  console.log("|---|---|---|---|---|---|---|---|");
  for (const r of rows) {
    const e = expectation(r.n);
    console.log(
      `| ${r.n} | ${s(r.convergeMs)} | ${s(r.disseminateMs)} (≈ ${e.rounds.toFixed(1)} rounds = ${s(e.rounds * profile.gossipIntervalMs)}) | ` +
        `${s(r.crashMs)} (≈ ${s(e.crash)}; suspicion min ${s(e.suspicionMin)}) | ${r.packetsPerMemberPerS.toFixed(1)} | ` +
        `${r.bytesPerMemberPerS.toFixed(0)} (${r.syncBytesPerMemberPerS.toFixed(0)}) | ${r.steadyS.toFixed(0)} s | ${r.wallS.toFixed(0)} s |`,
    );
  }
}
