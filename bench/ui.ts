/**
 * Memory of a node with 20 dashboards open: a coordinator and a worker on 127.0.0.1 under a
 * light steady /rpc load; the coordinator's RSS and heap with no dashboard, one, then 20. Same
 * processes, same run. A dashboard is, by default, a client doing exactly what the page does
 * on the network (every asset, sign-in, the four snapshots, then /cluster/events read as it
 * comes); with --browser, real Chromium pages (needs a machine with CPU to spare: 20 renderers).
 * Every process is stopped by PID; every loop is bounded.
 * Run: npx tsx bench/ui.ts [dashboards] [--browser]   (or npm run bench -- ui)
 */
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import { mkdirSync, readdirSync } from "node:fs";
import type { ChildProcess } from "node:child_process";
import { chromium, type Browser, type Page } from "playwright-core";
import { TokenService } from "../src/auth/tokens.js";
import { BENCH_SECRETS, rssMiB, spawnProcess, stop, waitHttp } from "./lib.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const DASHBOARDS = Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? 20);
const BROWSER = process.argv.includes("--browser");
const PORT = 19580;
const SAMPLE_S = 20;
const secrets = BENCH_SECRETS;
const url = `http://127.0.0.1:${PORT}`;
const admin = await new TokenService(secrets.P2P_JWT_SECRET).issue("bench", "admin", 3600);
const children: ChildProcess[] = [];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function start(role: "coordinator" | "worker", port: number): ChildProcess {
  mkdirSync("/tmp/p2p-bench-ui", { recursive: true });
  const child = spawnProcess(process.execPath, [join(root, "bin/p2p.js"), role, "--port", String(port), "--node-id", `${role}-${port}`, "--coord", `127.0.0.1:${PORT}`, "--log-file", `/tmp/p2p-bench-ui/${port}.log`, "--services-dir", join(root, "services")], secrets);
  children.push(child);
  return child;
}

/** ~20 calls/s over three methods, for as long as `running()` (the same in every phase). */
async function steadyLoad(running: () => boolean): Promise<number> {
  let calls = 0;
  const headers = { authorization: `Bearer ${admin}`, "content-type": "application/json" };
  while (running()) {
    await Promise.all(
      ["add", "hello", "slow_square"].map((m) => fetch(`${url}/rpc/example_service/${m}`, { method: "POST", headers, body: JSON.stringify({ params: { a: 1, b: 2, n: calls % 5, name: "x" } }) }).then((r) => r.text(), () => "")),
    );
    calls += 3;
    await sleep(150);
  }
  return calls;
}

async function heapMiB(): Promise<number> {
  const res = await fetch(`${url}/cluster/metrics`, { headers: { authorization: `Bearer ${admin}` } });
  const body = (await res.json()) as { nodes: { node_id: string; process?: { heap_used_bytes: number } }[] };
  const me = body.nodes.find((n) => n.node_id === `coordinator-${PORT}`);
  return Math.round(((me?.process?.heap_used_bytes ?? 0) / 1048576) * 10) / 10;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Samples the coordinator's RSS once a second for SAMPLE_S seconds. */
async function sample(pid: number): Promise<{ rss: number; rssMax: number; heap: number }> {
  const rss: number[] = [];
  for (let i = 0; i < SAMPLE_S; i++) {
    rss.push(rssMiB(pid));
    await sleep(1000);
  }
  return { rss: median(rss), rssMax: Math.max(...rss), heap: await heapMiB() };
}

/** Each dashboard in its own browser context, as 20 people would (one profile allows 6 connections per host). */
async function openDashboard(browser: Browser): Promise<Page> {
  const page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
  page.setDefaultTimeout(180_000); // a busy 2-core machine takes seconds per page
  await page.goto(`${url}/ui/`);
  await page.fill("input[name=api_key]", secrets.P2P_API_KEY);
  await page.click("button[type=submit]");
  await page.waitForFunction(() => (globalThis as unknown as { document: { querySelector(s: string): { textContent: string } | null } }).document.querySelector("[data-testid=connection]")?.textContent === "live", undefined, { timeout: 180_000 });
  return page;
}

/** The page's files, as the browser asks for them (index, styles, every module, the vendor files). */
function assetPaths(): string[] {
  const js = (dir: string): string[] => readdirSync(join(root, "ui", dir), { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? js(`${dir}/${e.name}`) : [`${dir}/${e.name}`]));
  return ["", "app.css", "favicon.svg", "vendor/uPlot.min.css", "vendor/preact.mjs", "vendor/hooks.mjs", "vendor/htm.mjs", "vendor/uPlot.esm.js", ...js("js")];
}

interface Dashboard {
  events(): number;
  close(): void;
}

/** What one open dashboard does on the network, without a renderer. */
async function simulatedDashboard(): Promise<Dashboard> {
  await Promise.all(assetPaths().map((p) => fetch(`${url}/ui/${p}`, { headers: { "accept-encoding": "gzip" } }).then((r) => r.arrayBuffer())));
  const auth = (await (await fetch(`${url}/auth/token`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ node_id: "dashboard", api_key: secrets.P2P_API_KEY }) })).json()) as { access_token: string };
  const headers = { authorization: `Bearer ${auth.access_token}` };
  await Promise.all(["nodes", "status", "services", "metrics"].map((p) => fetch(`${url}/cluster/${p}`, { headers }).then((r) => r.text())));
  const controller = new AbortController();
  const res = await fetch(`${url}/cluster/events`, { headers: { ...headers, accept: "text/event-stream" }, signal: controller.signal });
  let events = 0;
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  void (async () => {
    for (;;) {
      const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
      if (done) return;
      events += (value!.match(/\n\n/g) ?? []).length;
    }
  })();
  return { events: () => events, close: () => controller.abort() };
}

async function pageHeapMiB(page: Page): Promise<number> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("Performance.enable");
  const { metrics } = await cdp.send("Performance.getMetrics");
  return Math.round(((metrics.find((m) => m.name === "JSHeapUsedSize")?.value ?? 0) / 1048576) * 10) / 10;
}

let browser: Browser | undefined;
let loading = true;
try {
  const coordinator = start("coordinator", PORT);
  await waitHttp(`${url}/health`, 30_000);
  start("worker", PORT + 1);
  await waitHttp(`http://127.0.0.1:${PORT + 1}/health`, 30_000);
  const load = steadyLoad(() => loading);
  await sleep(20_000); // let start-up garbage settle under the steady load
  const rows: [string, { rss: number; rssMax: number; heap: number }][] = [];
  rows.push(["no dashboard", await sample(coordinator.pid!)]);

  let pageHeaps: number[] = [];
  if (BROWSER) {
    browser = await chromium.launch({ executablePath: process.env.P2P_BENCH_CHROMIUM ?? "/usr/bin/chromium", headless: true, args: process.getuid?.() === 0 ? ["--no-sandbox"] : [] });
    const pages = [await openDashboard(browser)];
    await sleep(5000);
    rows.push(["1 dashboard", await sample(coordinator.pid!)]);
    while (pages.length < DASHBOARDS) {
      const batch = Math.min(4, DASHBOARDS - pages.length);
      pages.push(...(await Promise.all(Array.from({ length: batch }, () => openDashboard(browser!)))));
    }
    await sleep(5000);
    rows.push([`${DASHBOARDS} dashboards`, await sample(coordinator.pid!)]);
    pageHeaps = await Promise.all(pages.map(pageHeapMiB));
  } else {
    const open = [await simulatedDashboard()];
    await sleep(5000);
    rows.push(["1 dashboard", await sample(coordinator.pid!)]);
    while (open.length < DASHBOARDS) open.push(await simulatedDashboard());
    await sleep(5000);
    rows.push([`${DASHBOARDS} dashboards`, await sample(coordinator.pid!)]);
    const counts = open.map((d) => d.events());
    console.log(`events received per dashboard: min ${Math.min(...counts)}, max ${Math.max(...counts)} (all streams live)`);
    for (const d of open) d.close();
  }
  await browser?.close();
  browser = undefined;
  await sleep(5000);
  rows.push(["none again (closed)", await sample(coordinator.pid!)]);
  loading = false;
  const calls = await load;

  const base = rows[0]![1];
  console.log(`coordinator with ${BROWSER ? "Chromium" : "simulated"} dashboards open (steady load: ${calls} calls in total; RSS median of ${SAMPLE_S} samples at 1 s)`);
  console.log("| dashboards | RSS median MiB | RSS max MiB | heap used MiB | RSS vs none |");
  console.log("|---|---|---|---|---|");
  for (const [label, r] of rows) console.log(`| ${label} | ${r.rss} | ${r.rssMax} | ${r.heap} | ${(r.rss / base.rss).toFixed(2)}× |`);
  const many = rows[2]![1];
  console.log(`per extra dashboard (1 → ${DASHBOARDS}): ${((many.rss - rows[1]![1].rss) / Math.max(1, DASHBOARDS - 1)).toFixed(2)} MiB RSS`);
  if (pageHeaps.length > 0) console.log(`each page's own JS heap after ${SAMPLE_S + 5} s: median ${median(pageHeaps)} MiB, max ${Math.max(...pageHeaps)} MiB`);
} finally {
  loading = false;
  await browser?.close();
  await Promise.all(children.map(stop));
}
