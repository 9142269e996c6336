/**
 * POST /rpc/example_service/echo with a valid token vs. a bare Fastify route returning the same
 * JSON, in one run, alternating (bare, rpc, bare, rpc) to even out noise; best of each counts.
 * Also the idle RSS of a node. Run: npm run bench (or npx tsx bench/http-rpc.ts).
 */
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import { TokenService } from "../src/auth/tokens.js";
import { load, rssMiB, spawnProcess, stop, waitHttp, type LoadResult } from "./lib.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const CONNECTIONS = 64;
const secrets = { P2P_JWT_SECRET: "bench-secret-0123456789abcdef", P2P_API_KEY: "bench-admin", P2P_CLUSTER_KEY: "bench-cluster" };

const rpcPort = 19101;
const barePort = 19102;
const node = spawnProcess(process.execPath, [join(root, "bin/p2p.js"), "coordinator", "--port", String(rpcPort), "--node-id", "bench", "--log-file", "/tmp/p2p-bench.log", "--services-dir", join(root, "services")], secrets);
const bare = spawnProcess(process.execPath, [join(root, "node_modules/tsx/dist/cli.mjs"), join(root, "bench/bare-fastify.ts"), String(barePort)]);
try {
  await waitHttp(`http://127.0.0.1:${rpcPort}/health`);
  await waitHttp(`http://127.0.0.1:${barePort}/bare`);
  await new Promise((r) => setTimeout(r, 2000));
  const idleRss = rssMiB(node.pid!);
  const token = await new TokenService(secrets.P2P_JWT_SECRET).issue("bench", "client", 3600);
  const body = JSON.stringify({ params: { message: "hello", n: 42 }, id: 1 });
  const runRpc = () => load({ url: `http://127.0.0.1:${rpcPort}/rpc/example_service/echo`, body, headers: { authorization: `Bearer ${token}` }, connections: CONNECTIONS, seconds: SECONDS });
  const runBare = () => load({ url: `http://127.0.0.1:${barePort}/bare`, body, connections: CONNECTIONS, seconds: SECONDS });
  await load({ url: `http://127.0.0.1:${rpcPort}/rpc/example_service/echo`, body, headers: { authorization: `Bearer ${token}` }, connections: CONNECTIONS, seconds: 2 }); // warm-up
  const bareRuns: LoadResult[] = [];
  const rpcRuns: LoadResult[] = [];
  for (let i = 0; i < 2; i++) {
    bareRuns.push(await runBare());
    rpcRuns.push(await runRpc());
  }
  const best = (runs: LoadResult[]) => runs.reduce((a, b) => (b.rps > a.rps ? b : a));
  const b = best(bareRuns);
  const r = best(rpcRuns);
  const loadedRss = rssMiB(node.pid!);
  console.log(`\n## HTTP RPC vs bare Fastify (${CONNECTIONS} connections, ${SECONDS} s per run, best of 2, alternating)\n`);
  console.log("| target | req/s | p50 ms | p99 ms | errors | non-2xx |");
  console.log("|---|---|---|---|---|---|");
  console.log(`| bare Fastify route | ${b.rps} | ${b.p50} | ${b.p99} | ${b.errors} | ${b.non2xx} |`);
  console.log(`| POST /rpc/example_service/echo (JWT, routing, metrics) | ${r.rps} | ${r.p50} | ${r.p99} | ${r.errors} | ${r.non2xx} |`);
  console.log(`\nratio rpc / bare = ${(r.rps / b.rps).toFixed(2)} (target >= 0.80)`);
  console.log(`node RSS: idle ${idleRss} MiB (target <= 60), after load ${loadedRss} MiB`);
} finally {
  await stop(node);
  await stop(bare);
}
