/**
 * Throughput over HTTP of a cached method next to the same method uncached (~0.5 ms of CPU
 * per call), in one run, on a node with the memory level only and on one with Redis too
 * (a private redis-server on a free port). Run: npx tsx bench/cache-http.ts
 */
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import { TokenService } from "../src/auth/tokens.js";
import { startRedis } from "../test/helpers/redis-server.js";
import { BENCH_SECRETS, load, spawnProcess, stop, waitHttp } from "./lib.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const secrets = BENCH_SECRETS;
const token = await new TokenService(secrets.P2P_JWT_SECRET).issue("bench", "client", 3600);
const redis = await startRedis();
const rows: string[] = [];
try {
  for (const [label, extra] of [["memory only", []], ["memory + Redis", ["--redis-url", redis.url]]] as const) {
    const port = label === "memory only" ? 19401 : 19402;
    const node = spawnProcess(process.execPath, [join(root, "bin/p2p.js"), "coordinator", "--port", String(port), "--node-id", `bench-cache-${port}`, "--log-file", "/tmp/p2p-bench-cache.log", "--services-dir", join(root, "bench/services/callee"), ...extra], secrets);
    try {
      await waitHttp(`http://127.0.0.1:${port}/health`);
      const run = (method: string) => load({ url: `http://127.0.0.1:${port}/rpc/bench_echo/${method}`, body: JSON.stringify({ params: { n: 7 } }), headers: { authorization: `Bearer ${token}` }, connections: 32, seconds: SECONDS });
      await run("compute_cached");
      const uncached = await run("compute");
      const cached = await run("compute_cached");
      rows.push(`| ${label} | uncached | ${uncached.rps} | ${uncached.p50} | ${uncached.p99} |`);
      rows.push(`| ${label} | cached | ${cached.rps} | ${cached.p50} | ${cached.p99} |`);
      rows.push(`| ${label} | ratio cached / uncached | ${(cached.rps / uncached.rps).toFixed(1)} | | |`);
    } finally {
      await stop(node);
    }
  }
} finally {
  await redis.stop();
}
console.log(`\n## Cached vs uncached method over HTTP (32 connections, ${SECONDS} s each)\n`);
console.log("| node | method | req/s | p50 ms | p99 ms |\n|---|---|---|---|---|\n" + rows.join("\n"));
