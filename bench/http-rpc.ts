/**
 * POST /rpc/example_service/add (a method with a params schema) with a valid client token vs a
 * bare Fastify route returning the same JSON, in one run: both servers pinned to core 0, this
 * process (autocannon) to core 1, alternating bare/rpc ROUNDS times. Besides req/s it reports
 * the server's CPU time per request (from /proc) and how busy the server's core was: when the
 * server is not near 100 %, the load generator was the limit and the req/s ratio understates the
 * difference, while the CPU-per-request ratio still compares the work each does per call.
 * Run: npm run bench -- http-rpc (or npx tsx bench/http-rpc.ts); BENCH_SECONDS, BENCH_ROUNDS.
 */
import { fileURLToPath, pathToFileURL } from "node:url";
import { dirname, join } from "node:path";
import { readFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { availableParallelism, loadavg } from "node:os";
import { TokenService } from "../src/auth/tokens.js";
import { BENCH_SECRETS, load, type LoadResult, rssMiB, spawnProcess, stop, waitHttp } from "./lib.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONNECTIONS = 64;
const secrets = BENCH_SECRETS;
const pin = availableParallelism() >= 2;
if (pin) spawnSync("taskset", ["-p", "-c", "1", String(process.pid)], { stdio: "ignore" });
const onCore0 = (cmd: string, args: string[]): [string, string[]] => (pin ? ["taskset", ["-c", "0", cmd, ...args]] : [cmd, args]);

/** CPU time (ms) a process used so far: utime + stime from /proc (clock ticks of 10 ms). */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

interface Run extends LoadResult {
  cpuUsPerReq: number;
  busy: number;
}

const rpcPort = 19101;
const barePort = 19102;
const node = spawnProcess(...onCore0(process.execPath, [join(root, "bin/p2p.js"), "coordinator", "--port", String(rpcPort), "--node-id", "bench", "--log-file", "/tmp/p2p-bench.log", "--data-dir", "/tmp/p2p-bench-data", "--services-dir", join(root, "services")]), secrets);
// tsx as a loader in the same process (its CLI would run the server in a child, whose CPU we would not see).
const bare = spawnProcess(...onCore0(process.execPath, ["--import", pathToFileURL(join(root, "node_modules/tsx/dist/loader.mjs")).href, join(root, "bench/bare-fastify.ts"), String(barePort)]));
try {
  await waitHttp(`http://127.0.0.1:${rpcPort}/health`);
  await waitHttp(`http://127.0.0.1:${barePort}/bare`);
  await new Promise((r) => setTimeout(r, 2000));
  const idleRss = rssMiB(node.pid!);
  const token = await new TokenService(secrets.P2P_JWT_SECRET).issue("bench", "client", 3600);
  const body = JSON.stringify({ params: { a: 40, b: 2 }, id: 1 });
  const measured = async (pid: number, run: () => Promise<LoadResult>): Promise<Run> => {
    const cpu0 = cpuMs(pid);
    const t0 = Date.now();
    const result = await run();
    const cpu = cpuMs(pid) - cpu0;
    return { ...result, cpuUsPerReq: (cpu * 1000) / Math.max(1, result.rps * SECONDS), busy: cpu / (Date.now() - t0) };
  };
  const rpcUrl = `http://127.0.0.1:${rpcPort}/rpc/example_service/add`;
  const runRpc = () => measured(node.pid!, () => load({ url: rpcUrl, body, headers: { authorization: `Bearer ${token}` }, connections: CONNECTIONS, seconds: SECONDS }));
  const runBare = () => measured(bare.pid!, () => load({ url: `http://127.0.0.1:${barePort}/bare`, body, connections: CONNECTIONS, seconds: SECONDS }));
  const check = await fetch(rpcUrl, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body });
  const checkBody = await check.text();
  const bareBody = await (await fetch(`http://127.0.0.1:${barePort}/bare`, { method: "POST", headers: { "content-type": "application/json" }, body })).text();
  if (check.status !== 200 || checkBody !== bareBody) throw new Error(`the two servers do not answer the same: ${check.status} ${checkBody} vs ${bareBody}`);
  await load({ url: rpcUrl, body, headers: { authorization: `Bearer ${token}` }, connections: CONNECTIONS, seconds: 2 }); // warm-up
  await load({ url: `http://127.0.0.1:${barePort}/bare`, body, connections: CONNECTIONS, seconds: 2 });
  const load0 = loadavg()[0]!;
  const pairs: { bare: Run; rpc: Run }[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    // Which one goes first alternates, so neither always gets the quieter half of a round.
    if (i % 2 === 0) {
      const b = await runBare();
      pairs.push({ bare: b, rpc: await runRpc() });
    } else {
      const r = await runRpc();
      pairs.push({ bare: await runBare(), rpc: r });
    }
  }
  const load1 = loadavg()[0]!;
  const loadedRss = rssMiB(node.pid!);
  const f = (n: number, d = 0) => n.toFixed(d);
  console.log(`\n## HTTP RPC vs bare Fastify (node ${process.version}; ${CONNECTIONS} connections, ${SECONDS} s per run, ${ROUNDS} alternating rounds; ${pin ? "servers on core 0, autocannon on core 1" : "not pinned"}; load average ${f(load0, 1)} → ${f(load1, 1)})\n`);
  console.log("| round | bare req/s | /rpc req/s | ratio | bare CPU µs/req | /rpc CPU µs/req | CPU ratio (bare/rpc) | bare core busy | /rpc core busy | /rpc p50 / p99 ms | errors / non-2xx |");
  console.log("|---|---|---|---|---|---|---|---|---|---|---|");
  pairs.forEach(({ bare: b, rpc: r }, i) =>
    console.log(`| ${i + 1} | ${b.rps} | ${r.rps} | **${f(r.rps / b.rps, 2)}** | ${f(b.cpuUsPerReq, 1)} | ${f(r.cpuUsPerReq, 1)} | ${f(b.cpuUsPerReq / r.cpuUsPerReq, 2)} | ${f(b.busy * 100)} % | ${f(r.busy * 100)} % | ${r.p50} / ${r.p99} | ${b.errors + r.errors} / ${b.non2xx + r.non2xx} |`),
  );
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  console.log(`\nmedian ratio rpc / bare: req/s ${f(median(pairs.map((p) => p.rpc.rps / p.bare.rps)), 2)}, CPU per request ${f(median(pairs.map((p) => p.bare.cpuUsPerReq / p.rpc.cpuUsPerReq)), 2)} (target >= 0.85)`);
  // The req/s ratio compares the two servers only when each was the limit (its core ~100 % busy).
  const idlest = Math.min(...pairs.flatMap((p) => [p.bare.busy, p.rpc.busy]));
  console.log(idlest >= 0.9 ? `both servers >= 90 % busy in every round (least ${f(idlest * 100)} %): the req/s ratio is valid` : `a server was only ${f(idlest * 100)} % busy in some round: the load generator or the machine's load was the limit, the req/s ratio is NOT valid (compare CPU per request, or rerun on a quiet machine)`);
  console.log(`node RSS: idle ${idleRss} MiB, after load ${loadedRss} MiB`);
} finally {
  await stop(node);
  await stop(bare);
}
