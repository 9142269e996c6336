/**
 * Faults on real networks, measured: 5 real nodes in Linux network namespaces (the harness of
 * test/netns), c1 a coordinator without services sending a steady stream of idempotent calls
 * (example_service.hello) to four workers. Per scenario: detection time (dead on every other
 * node), time to one cluster again, and the share of calls answered.
 * Needs root, ip, nft and tc. Run: npx tsx bench/faults.ts [rounds] (npm run bench -- faults).
 */
import { FIVE_NODES, NetnsCluster, netnsUnavailableReason, sleep, summarize, type NetnsNode } from "../test/netns/harness.js";

const reason = netnsUnavailableReason();
if (reason !== null) {
  console.log(`faults: cannot run here (${reason})`);
  process.exit(0);
}

const rounds = Number(process.argv[2] ?? 3);
const LOSS_SECONDS = 20;
const cluster = new NetnsCluster(FIVE_NODES);
const others = (id: string): NetnsNode[] => cluster.nodes.filter((x) => x.id !== id);
const rows: { scenario: string; figures: string[] }[] = [];
const add = (scenario: string, figure: string): void => {
  let row = rows.find((r) => r.scenario === scenario);
  if (!row) rows.push((row = { scenario, figures: [] }));
  row.figures.push(figure);
  console.log(`  ${scenario}: ${figure}`);
};
const calls = (o: ReturnType<typeof summarize>): string => `${o.ok}/${o.total} ok (${(o.okRatio * 100).toFixed(1)} %)`;

async function oneCluster(): Promise<void> {
  cluster.clearFaults();
  await cluster.timeUntil(() => cluster.oneCluster(), 45_000, "one cluster");
}

async function deaths(since: number): Promise<number> {
  let n = 0;
  for (const o of cluster.nodes) for (const t of cluster.nodes) if (t !== o) n += cluster.stateChanges(o, t.id).filter((c) => c.state === "dead" && c.time >= since).length;
  return n;
}

try {
  const started = Date.now();
  await cluster.up();
  await cluster.timeUntil(() => cluster.oneCluster(), 60_000, "the cluster forms");
  console.log(`cluster of 5 in namespaces up in ${Date.now() - started} ms; ${rounds} rounds`);
  for (let round = 1; round <= rounds; round++) {
    console.log(`round ${round}`);
    await oneCluster();
    // kill -9 under a 1 s-deadline stream; restart under the same id.
    {
      const stream = cluster.stream({ timeoutMs: 1_000 });
      await sleep(1_000);
      const w2 = cluster.node("w2");
      await w2.kill();
      add("kill -9: dead everywhere (ms)", String(await cluster.timeUntil(() => cluster.allSee(others("w2"), "w2", "dead"), 15_000, "w2 dead")));
      w2.start();
      await cluster.waitHealthy(w2);
      add("kill -9: one cluster after restart (ms)", String(await cluster.timeUntil(() => cluster.oneCluster(), 20_000, "w2 back")));
      add("kill -9: calls (1 s deadline)", calls(summarize(await stream.stop())));
    }
    await oneCluster();
    // A partitioned worker.
    {
      cluster.partition(others("w4"), [cluster.node("w4")]);
      add("partition: dead everywhere (ms)", String(await cluster.timeUntil(() => cluster.allSee(others("w4"), "w4", "dead"), 15_000, "w4 dead")));
      cluster.heal();
      add("partition: one cluster after heal (ms)", String(await cluster.timeUntil(() => cluster.oneCluster(), 20_000, "healed")));
    }
    await oneCluster();
    // 2|3 split under a 2 s-deadline stream.
    {
      const stream = cluster.stream({ timeoutMs: 2_000 });
      await sleep(1_000);
      const a = ["c1", "w1", "w2"].map((id) => cluster.node(id));
      cluster.partition(a, ["w3", "w4"].map((id) => cluster.node(id)));
      add("split 2|3: other side dead (ms)", String(await cluster.timeUntil(async () => (await cluster.allSee(a, "w3", "dead")) && (await cluster.allSee(a, "w4", "dead")), 15_000, "split seen")));
      await sleep(2_000);
      cluster.heal();
      add("split 2|3: one cluster after heal (ms)", String(await cluster.timeUntil(() => cluster.oneCluster(), 20_000, "healed")));
      add("split 2|3: calls (2 s deadline)", calls(summarize(await stream.stop())));
    }
    // Stalls.
    for (const stallMs of [3_000, 8_000]) {
      await oneCluster();
      const stream = cluster.stream({ timeoutMs: 1_000 });
      await sleep(1_000);
      const w1 = cluster.node("w1");
      w1.signal("SIGSTOP");
      await sleep(stallMs);
      w1.signal("SIGCONT");
      add(`stall ${stallMs / 1000} s: one cluster after SIGCONT (ms)`, String(await cluster.timeUntil(() => cluster.oneCluster(), 20_000, "w1 back")));
      add(`stall ${stallMs / 1000} s: calls (1 s deadline)`, calls(summarize(await stream.stop())));
    }
    // Loss.
    for (const percent of [10, 25]) {
      await oneCluster();
      const since = Date.now();
      const stream = cluster.stream({ timeoutMs: 5_000 });
      cluster.loss(percent);
      await sleep(LOSS_SECONDS * 1000);
      cluster.clearLoss();
      const s = summarize(await stream.stop());
      add(`loss ${percent} % for ${LOSS_SECONDS} s: calls (5 s deadline)`, calls(s));
      add(`loss ${percent} % for ${LOSS_SECONDS} s: false deaths logged`, String(await deaths(since)));
    }
  }
  console.log("\n| scenario | " + Array.from({ length: rounds }, (_, i) => `round ${i + 1}`).join(" | ") + " |");
  console.log("|---|" + "---|".repeat(rounds));
  for (const r of rows) console.log(`| ${r.scenario} | ${r.figures.join(" | ")} |`);
} finally {
  await cluster.down();
  const left = cluster.leftovers();
  if (left.length > 0) console.log(`namespaces left behind: ${left.join(", ")}`);
}
