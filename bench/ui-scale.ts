/**
 * Does the dashboard stay fast with 50 nodes and 100 methods? One real node serves the page,
 * its assets and sign-in; Chromium (Debian's) opens it, and the cluster the page reads —
 * /cluster/nodes, /status, /services, /metrics and the /cluster/events stream — is answered by
 * the browser's request interception with bodies of the real shapes (the types the node's own
 * routes return) for a cluster of N nodes each running every one of M methods: the worst case
 * for the page, whatever the backend. The stream sends a fresh metrics snapshot about twice a
 * second (each connection carries one, then the page reconnects by id), more often than a real
 * node's one a second.
 *
 * Measured per view, the small cluster (3 × 5) as the baseline in the same run: time from
 * clicking the tab to its table or chart being on screen, main-thread busy share (CDP
 * TaskDuration over wall time) while snapshots flow, the longest task, and the page's JS heap.
 * Run: npx tsx bench/ui-scale.ts [nodes] [methods] [--profile=VIEW]   (or npm run bench -- ui-scale)
 * --profile=VIEW also prints where the page's main thread spends its time in that view (large cluster).
 */
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import { mkdirSync } from "node:fs";
import { chromium, type Page, type Route } from "playwright-core";
import type { ClusterMetricsBody, NodeMetricsRow } from "../src/observe/cluster-metrics.js";
import type { ServiceDescription } from "../src/observe/service-catalogue.js";
import { BENCH_SECRETS, spawnProcess, stop, waitHttp } from "./lib.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const numbers = process.argv.slice(2).filter((a) => /^\d+$/.test(a)).map(Number);
const LARGE = { nodes: numbers[0] ?? 50, methods: numbers[1] ?? 100 };
const SMALL = { nodes: 3, methods: 5 };
const PROFILE = process.argv.find((a) => a.startsWith("--profile="))?.slice("--profile=".length);
const PORT = 19680;
const FLOW_S = 15;
const VIEWS: [tab: string, ready: string][] = [
  ["overview", "[data-testid=nodes-table], .stat-value"],
  ["nodes", "[data-testid=nodes-table] tbody tr"],
  ["services", "[data-testid=services-matrix]"],
  ["metrics", "[data-testid=methods-table]"],
  ["console", "[data-testid=method-filter]"],
];
const secrets = BENCH_SECRETS;
const url = `http://127.0.0.1:${PORT}`;

interface Shape {
  nodes: number;
  methods: number;
}

/** services s0..s9, each with methods/10 methods (at least one service). */
function layout(shape: Shape): { service: string; methods: string[] }[] {
  const services = Math.max(1, Math.min(10, Math.floor(shape.methods / 5)));
  const per = Math.ceil(shape.methods / services);
  return Array.from({ length: services }, (_, s) => ({ service: `svc_${s}`, methods: Array.from({ length: per }, (_, m) => `method_${m}`).slice(0, Math.max(0, Math.min(per, shape.methods - s * per))) })).filter((s) => s.methods.length > 0);
}

const nodeIds = (shape: Shape) => Array.from({ length: shape.nodes }, (_, i) => (i === 0 ? "coord-0" : `worker-${i}`));

function nodesBody(shape: Shape) {
  const services = layout(shape).map((s) => s.service);
  return {
    nodes: nodeIds(shape).map((id, i) => ({
      node_id: id,
      role: i === 0 ? "coordinator" : "worker",
      address: `10.0.${Math.floor(i / 250)}.${(i % 250) + 1}:4000`,
      state: i === shape.nodes - 1 ? "suspect" : "alive",
      incarnation: 1,
      services,
      last_change: new Date().toISOString(),
      version: "0.1.0",
      load: { inflight: i % 7 },
      labels: { zone: `z${i % 3}`, disk: i % 2 ? "ssd" : "hdd" },
      uptime_s: 3600 + i,
      service_versions: Object.fromEntries(services.map((s) => [s, "1.0.0"])),
      failed_services: [],
    })),
  };
}

function statusBody(shape: Shape) {
  const ids = nodeIds(shape);
  const services = layout(shape);
  return {
    node_id: ids[0],
    role: "coordinator",
    leader: ids[0],
    members: { alive: shape.nodes - 1, suspect: 1, dead: 0, left: 0 },
    coordinators: [ids[0]],
    services: Object.fromEntries(services.map((s) => [s.service, ids])),
    versions: Object.fromEntries(services.map((s) => [s.service, Object.fromEntries(ids.map((id) => [id, "1.0.0"]))])),
  };
}

function servicesBody(shape: Shape): { services: ServiceDescription[] } {
  const ids = nodeIds(shape);
  return {
    services: layout(shape).map(({ service, methods }) => ({
      name: service,
      description: `Service ${service}`,
      nodes: ids.map((id) => ({ node_id: id, version: "1.0.0", status: "running" })),
      methods: methods.map((m, i) => ({
        name: m,
        description: `What ${m} does`,
        public: i % 2 === 0,
        idempotent: i % 3 === 0,
        cache: i % 4 === 0 ? { ttl_s: 30 } : null,
        params: { type: "object", properties: { id: { type: "string" }, count: { type: "integer", minimum: 0 }, verbose: { type: "boolean" } }, required: ["id"] },
      })),
    })),
  };
}

function metricsBody(shape: Shape, tick: number): ClusterMetricsBody {
  const services = layout(shape);
  const wave = (i: number) => 50 + 40 * Math.sin(tick / 5 + i);
  const nodes: NodeMetricsRow[] = nodeIds(shape).map((id, n) => ({
    node_id: id,
    role: n === 0 ? "coordinator" : "worker",
    state: "alive",
    stale: false,
    process: { cpu_pct: wave(n), rss_bytes: 80e6 + n * 1e5, heap_used_bytes: 25e6, loop_lag_ms: 1 + (n % 5), inflight: n % 9, uptime_s: 3600 + tick },
    methods: services.flatMap(({ service, methods }) =>
      methods.map((method, m) => ({ service, method, calls_per_s: wave(m + n), errors_per_s: m % 10 === 0 ? 0.5 : 0, p50_ms: 1 + (m % 7), p99_ms: 5 + (m % 13), calls: tick * 50 + m, errors: m % 10 === 0 ? tick : 0 })),
    ),
    cache: { hits: tick * 10, misses: tick * 3, hit_ratio: 0.77 },
  }));
  return {
    generated_at: new Date().toISOString(),
    window_s: 60,
    nodes,
    services: services.flatMap(({ service, methods }) => methods.map((method, m) => ({ service, method, calls_per_s: wave(m) * shape.nodes, errors_per_s: 0, p50_ms: 1 + (m % 7), p99_ms: 5 + (m % 13) }))),
    cache: { hits: tick * 10 * shape.nodes, misses: tick * 3 * shape.nodes, hit_ratio: 0.77 },
  };
}

/** Answers the page's cluster reads with the shape's bodies; each stream connection carries one snapshot. */
async function serveCluster(page: Page, shape: Shape): Promise<{ snapshots: () => number }> {
  let tick = 0;
  let eventId = 0;
  const json = (route: Route, body: unknown) => route.fulfill({ status: 200, contentType: "application/json", body: JSON.stringify(body) });
  await page.route(/\/cluster\/nodes$/, (r) => json(r, nodesBody(shape)));
  await page.route(/\/cluster\/status$/, (r) => json(r, statusBody(shape)));
  await page.route(/\/cluster\/services$/, (r) => json(r, servicesBody(shape)));
  await page.route(/\/cluster\/metrics$/, (r) => json(r, metricsBody(shape, tick)));
  await page.route(/\/cluster\/events$/, (r) => {
    tick += 1;
    const hello = { node_id: "coord-0", cluster: statusBody(shape), last_event_id: String(eventId), resumed: true };
    const frames = [`id: ${++eventId}\nevent: hello\ndata: ${JSON.stringify(hello)}\n\n`, `id: ${++eventId}\nevent: metrics\ndata: ${JSON.stringify(metricsBody(shape, tick))}\n\n`];
    return r.fulfill({ status: 200, headers: { "content-type": "text/event-stream", "cache-control": "no-store" }, body: frames.join("") });
  });
  return { snapshots: () => tick };
}

interface ViewFigures {
  view: string;
  renderMs: number;
  busyPct: number;
  longestTaskMs: number;
  snapshotsPerS: number;
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

/** Self time per function from a CDP CPU profile, most first. */
function topSelfTime(profile: { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] }, n: number): string[] {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const self = new Map<string, number>();
  profile.samples.forEach((id, i) => {
    const frame = byId.get(id)!.callFrame;
    const key = `${frame.functionName || "(anonymous)"} ${frame.url.split("/").slice(-2).join("/")}:${frame.lineNumber + 1}`;
    self.set(key, (self.get(key) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000);
  });
  return [...self].sort((a, b) => b[1] - a[1]).slice(0, n).map(([key, ms]) => `${ms.toFixed(0).padStart(7)} ms  ${key}`);
}

async function measure(shape: Shape, profileView?: string): Promise<{ signInMs: number; views: ViewFigures[]; heapMiB: number }> {
  const browser = await chromium.launch({
    executablePath: process.env.P2P_TEST_CHROMIUM ?? "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  try {
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
    const page = await context.newPage();
    const cluster = await serveCluster(page, shape);
    const cdp = await context.newCDPSession(page);
    await cdp.send("Performance.enable");
    await page.goto(`${url}/ui/`);
    await page.evaluate("window.__longest = 0; new PerformanceObserver((l) => { for (const e of l.getEntries()) window.__longest = Math.max(window.__longest, e.duration); }).observe({ type: 'longtask', buffered: true });");
    await page.fill("input[name=api_key]", secrets.P2P_API_KEY);
    const signInStart = performance.now();
    await page.click("button[type=submit]");
    await page.waitForSelector(`tr[data-node-id="${nodeIds(shape).at(-1)}"]`, { timeout: 120_000 });
    const signInMs = performance.now() - signInStart;
    const taskSeconds = async () => ((await cdp.send("Performance.getMetrics")).metrics.find((m) => m.name === "TaskDuration")?.value ?? 0);
    const views: ViewFigures[] = [];
    for (const [tab, ready] of VIEWS) {
      const clicked = performance.now();
      await page.click(`[data-tab=${tab}]`);
      await page.waitForSelector(ready, { timeout: 60_000 });
      const renderMs = performance.now() - clicked;
      await page.evaluate("window.__longest = 0");
      if (tab === profileView) await cdp.send("Profiler.enable").then(() => cdp.send("Profiler.start"));
      const [task0, snap0, t0] = [await taskSeconds(), cluster.snapshots(), performance.now()];
      await page.waitForTimeout(FLOW_S * 1000);
      const [task1, snap1, t1] = [await taskSeconds(), cluster.snapshots(), performance.now()];
      const wallS = (t1 - t0) / 1000;
      if (tab === profileView) {
        const { profile } = await cdp.send("Profiler.stop");
        console.log(`main thread of the ${tab} view over ${FLOW_S} s, self time:\n${topSelfTime(profile as never, 20).join("\n")}`);
      }
      views.push({ view: tab, renderMs, busyPct: (100 * (task1 - task0)) / wallS, longestTaskMs: Number(await page.evaluate("window.__longest")), snapshotsPerS: (snap1 - snap0) / wallS });
    }
    const heap = (await cdp.send("Performance.getMetrics")).metrics.find((m) => m.name === "JSHeapUsedSize")?.value ?? 0;
    return { signInMs, views, heapMiB: heap / 1048576 };
  } finally {
    await browser.close();
  }
}

mkdirSync("/tmp/p2p-bench-ui-scale", { recursive: true });
const node = spawnProcess(process.execPath, [join(root, "bin/p2p.js"), "coordinator", "--port", String(PORT), "--node-id", "ui-scale", "--log-file", "/tmp/p2p-bench-ui-scale/node.log", "--services-dir", join(root, "test/fixtures/empty-services")], secrets);
try {
  await waitHttp(`${url}/health`, 60_000);
  const load = (await import("node:os")).loadavg()[0]!.toFixed(1);
  const small = await measure(SMALL);
  const large = await measure(LARGE, PROFILE);
  const f = (x: number) => (x >= 100 ? x.toFixed(0) : x.toFixed(1));
  console.log(`dashboard at ${LARGE.nodes} nodes × ${LARGE.methods} methods vs ${SMALL.nodes} × ${SMALL.methods} (same run, Chromium headless, load average ${load} at start)`);
  console.log(`sign-in to the last node's row: ${f(small.signInMs)} ms vs ${f(large.signInMs)} ms; page JS heap ${f(small.heapMiB)} vs ${f(large.heapMiB)} MiB`);
  console.log("| view | render ms (small → large) | main thread busy % while snapshots flow | longest task ms | snapshots/s |");
  console.log("|---|---|---|---|---|");
  for (let i = 0; i < VIEWS.length; i++) {
    const s = small.views[i]!;
    const l = large.views[i]!;
    console.log(`| ${l.view} | ${f(s.renderMs)} → ${f(l.renderMs)} | ${f(s.busyPct)} → ${f(l.busyPct)} | ${f(s.longestTaskMs)} → ${f(l.longestTaskMs)} | ${s.snapshotsPerS.toFixed(1)} / ${l.snapshotsPerS.toFixed(1)} |`);
  }
} finally {
  await stop(node);
}
