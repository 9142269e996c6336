/**
 * Deploying services at run time, measured with real node processes on 127.0.0.1:
 * 1. time from POST /admin/deployments to `ready` (running on every target node), for a
 *    3-node and a 10-node cluster, with a 1 MiB and a 20 MiB artifact (padded with random,
 *    incompressible bytes in a bundled asset); the upload (PUT) is timed apart;
 * 2. RSS of one node before and after 100 redeploys of one service (each replaces its thread);
 * 3. calls/s of the same service loaded statically and deployed (worker thread), same node,
 *    same run, alternating.
 * Every process is stopped by PID at the end. Run: npm run bench -- deploy
 * (BENCH_SECONDS per load run, default 5; BENCH_REDEPLOYS, default 100; BENCH_REPEAT, default 3).
 */
import { createHash, randomBytes } from "node:crypto";
import { join } from "node:path";
import { loadavg } from "node:os";
import { bundleService } from "../src/deploy/bundle.js";
import { readTarGz, writeTarGz } from "../src/deploy/tar.js";
import type { DeploymentView, Placement } from "../src/deploy/types.js";
import { REPO_ROOT, startNode, stopAll, waitFor, type RunningNode } from "../test/helpers/launcher.js";
import { request, testToken } from "../test/helpers/http.js";
import { waitConverged } from "../test/helpers/cluster.js";
import { deploymentOn, upload } from "../test/helpers/deploy.js";
import { load, rssMiB, type LoadResult } from "./lib.js";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const REDEPLOYS = Number(process.env.BENCH_REDEPLOYS ?? 100);
const REPEAT = Number(process.env.BENCH_REPEAT ?? 3);
const SERVICE_DIR = join(REPO_ROOT, "bench/services/deploy/bench_svc");
const NO_SERVICES = join(REPO_ROOT, "test/fixtures/empty-services");
const MiB = 1024 * 1024;

const admin = await testToken("admin");
const base = await bundleService(SERVICE_DIR);
const code = (await readTarGz(base.archive, 200 * MiB)).find((e) => e.path === "main.js")!.data;
const load1 = () => loadavg()[0]!.toFixed(1);

/** The bench service with `padBytes` of random bytes in assets/pad.bin (a new SHA-256 each time). */
async function artifact(padBytes: number): Promise<{ archive: Buffer; sha256: string }> {
  const archive = await writeTarGz([{ path: "main.js", data: Buffer.from(code) }, { path: "assets/pad.bin", data: randomBytes(padBytes) }]);
  return { archive, sha256: createHash("sha256").update(archive).digest("hex") };
}

async function post(node: RunningNode, service: string, sha256: string, placement: Placement): Promise<number> {
  const res = await request<{ generation?: number }>(`${node.url}/admin/deployments`, { token: admin, body: { service, artifact: sha256, placement } });
  if (res.status !== 202) throw new Error(`deploy ${service}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.generation!;
}

async function ready(node: RunningNode, service: string, generation: number, timeoutMs = 180_000): Promise<DeploymentView> {
  let last: DeploymentView | undefined;
  await waitFor(async () => {
    last = await deploymentOn(node, service);
    if (last?.status === "failed") throw new Error(`${service} failed: ${JSON.stringify(last.nodes)}`);
    return last?.status === "ready" && last.generation === generation;
  }, timeoutMs, () => `${service} generation ${generation} ready: ${JSON.stringify(last)}`);
  return last!;
}

async function undeploy(node: RunningNode, service: string): Promise<void> {
  await request(`${node.url}/admin/deployments/${service}`, { method: "DELETE", token: admin });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function startCluster(count: number, existing: RunningNode[]): Promise<RunningNode[]> {
  const nodes = [...existing];
  if (nodes.length === 0) nodes.push(await startNode({ nodeId: "dep-0", args: ["--services-dir", NO_SERVICES] }));
  const seed = ["--coord", `127.0.0.1:${nodes[0]!.port}`, "--services-dir", NO_SERVICES];
  while (nodes.length < count) {
    const batch = Array.from({ length: Math.min(3, count - nodes.length) }, (_, k) => `dep-${nodes.length + k}`);
    nodes.push(...(await Promise.all(batch.map((id) => startNode({ role: "worker", nodeId: id, args: seed })))));
  }
  await waitConverged(nodes, 90_000);
  return nodes;
}

/** Part 1: POST → ready on all N nodes, per artifact size; median of REPEAT fresh deployments. */
async function rolloutTimes(nodes: RunningNode[]): Promise<string[]> {
  const rows: string[] = [];
  for (const size of [1 * MiB, 20 * MiB]) {
    const times: number[] = [];
    const uploads: number[] = [];
    for (let i = 0; i < REPEAT; i++) {
      const art = await artifact(size);
      const service = `roll_${nodes.length}_${size / MiB}m_${i}`;
      let t = Date.now();
      const status = await upload(nodes[0]!, { ...art, folder: "bench_svc" });
      if (status !== 201) throw new Error(`upload answered ${status}`);
      uploads.push(Date.now() - t);
      t = Date.now();
      const generation = await post(nodes[0]!, service, art.sha256, {});
      const view = await ready(nodes[0]!, service, generation);
      times.push(Date.now() - t);
      if (Object.keys(view.nodes).length !== nodes.length) throw new Error(`${service} on ${Object.keys(view.nodes).length} nodes`);
      await undeploy(nodes[0]!, service);
      await new Promise((r) => setTimeout(r, 3_000)); // withdrawals finish before the next one
    }
    rows.push(`| ${nodes.length} | ${(archiveSize(size) / MiB).toFixed(1)} MiB | ${median(uploads)} | ${median(times)} | ${times.join(", ")} | ${load1()} |`);
  }
  return rows;
}
/** The archive is gzip of (code + random pad): random bytes do not compress, so about the pad's size. */
const archiveSize = (pad: number) => pad + code.length;

/** Part 2: RSS of a node before and after REDEPLOYS replacements of one service. */
async function redeployMemory(node: RunningNode): Promise<string[]> {
  const a = await artifact(1024);
  const b = await artifact(1024);
  for (const art of [a, b]) if ((await upload(node, { ...art, folder: "bench_svc" })) !== 201) throw new Error("upload failed");
  const settle = async () => {
    await new Promise((r) => setTimeout(r, 5_000));
    return rssMiB(node.pid);
  };
  const rows: string[] = [];
  const before = await settle();
  rows.push(`| before any deployment | ${before} | — |`);
  let generation = await post(node, "churn", a.sha256, {});
  await ready(node, "churn", generation);
  const first = await settle();
  rows.push(`| deployed once | ${first} | ${(first - before).toFixed(1)} |`);
  const started = Date.now();
  let at10 = 0;
  for (let i = 1; i <= REDEPLOYS; i++) {
    generation = await post(node, "churn", (i % 2 === 1 ? b : a).sha256, {});
    await ready(node, "churn", generation);
    if (i === 10) {
      at10 = await settle();
      rows.push(`| after 10 redeploys | ${at10} | ${(at10 - before).toFixed(1)} |`);
    }
  }
  const perRedeploy = Math.round((Date.now() - started - 5_000) / REDEPLOYS);
  const after = await settle();
  rows.push(`| after ${REDEPLOYS} redeploys | ${after} | ${(after - before).toFixed(1)} (${(after - at10).toFixed(1)} since the 10th) |`);
  await undeploy(node, "churn");
  await new Promise((r) => setTimeout(r, 3_000));
  const gone = await settle();
  rows.push(`| undeployed | ${gone} | ${(gone - before).toFixed(1)} |`);
  rows.push(`\n(one redeploy, POST to ready, takes ${perRedeploy} ms on average; load average ${load1()})`);
  return rows;
}

/** Part 3: calls/s of bench_svc loaded statically vs deployed as bench_svc_d, alternating. */
async function staticVsDeployed(node: RunningNode): Promise<string[]> {
  const art = await artifact(0);
  if ((await upload(node, { ...art, folder: "bench_svc" })) !== 201) throw new Error("upload failed");
  await ready(node, "bench_svc_d", await post(node, "bench_svc_d", art.sha256, {}));
  const client = await testToken("client");
  const rows: string[] = [];
  for (const [method, body] of [["echo", { params: { message: "hello", n: 42 } }], ["compute", { params: { n: 7 } }]] as const) {
    const run = (service: string) => load({ url: `${node.url}/rpc/${service}/${method}`, body: JSON.stringify(body), headers: { authorization: `Bearer ${client}` }, connections: 32, seconds: SECONDS });
    await run("bench_svc");
    await run("bench_svc_d"); // warm-up
    const st: LoadResult[] = [];
    const dp: LoadResult[] = [];
    for (let i = 0; i < REPEAT; i++) {
      st.push(await run("bench_svc"));
      dp.push(await run("bench_svc_d"));
    }
    const ratios = st.map((s, i) => dp[i]!.rps / s.rps);
    const fmt = (r: LoadResult[]) => `${median(r.map((x) => x.rps))} (${r.map((x) => x.rps).join(", ")}) | ${median(r.map((x) => x.p99))}`;
    rows.push(`| ${method} | static | ${fmt(st)} | ${st.reduce((n, r) => n + r.errors + r.non2xx, 0)} |`);
    rows.push(`| ${method} | deployed | ${fmt(dp)} | ${dp.reduce((n, r) => n + r.errors + r.non2xx, 0)} |`);
    rows.push(`| ${method} | deployed / static | ${median(ratios).toFixed(2)} (per round: ${ratios.map((r) => r.toFixed(2)).join(", ")}) | | |`);
  }
  rows.push(`\n(load average ${load1()})`);
  return rows;
}

const only = process.argv.slice(2);
const want = (part: string) => only.length === 0 || only.includes(part);
try {
  console.log(`\n## Deploying services (bench/deploy.ts) — ${new Date().toISOString()}, load average at start ${loadavg().map((l) => l.toFixed(1)).join(" ")}`);
  if (want("rollout")) {
    console.log("\n| nodes | artifact | upload ms (median) | POST → ready on all, ms (median) | each run, ms | load avg |\n|---|---|---|---|---|---|");
    const three = await startCluster(3, []);
    for (const row of await rolloutTimes(three)) console.log(row);
    const ten = await startCluster(10, three);
    for (const row of await rolloutTimes(ten)) console.log(row);
    await stopAll();
  }
  if (want("memory") || want("calls")) {
    const node = await startNode({ nodeId: "dep-solo", args: ["--services-dir", join(REPO_ROOT, "bench/services/deploy")] });
    if (want("memory")) {
      console.log(`\n| one node, service "churn" | RSS MiB | growth MiB |\n|---|---|---|`);
      for (const row of await redeployMemory(node)) console.log(row);
    }
    if (want("calls")) {
      console.log(`\n| method | loaded | calls/s median (each run) | p99 ms | errors |\n|---|---|---|---|---|`);
      for (const row of await staticVsDeployed(node)) console.log(row);
    }
  }
} finally {
  await stopAll();
}
