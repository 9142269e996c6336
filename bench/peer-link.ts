/**
 * Peer link throughput and latency between two processes on loopback.
 *   npx tsx bench/peer-link.ts [--seconds 3] [--only aes-gcm:100] [--verbose]
 * The parent spawns a child running a node:http server + UpgradeRouter + PeerLinkServer
 * (echo handler), then drives it through a PeerLinkPool with 1 and 100 calls in flight,
 * with a cluster key (AES-256-GCM records) and in development mode (plaintext).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:http";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { Keyring } from "../src/security/keyring.js";
import { UpgradeRouter } from "../src/transport/upgrade.js";
import { PeerLinkPool, PeerLinkServer, type LinkCall, type LinkTarget } from "../src/transport/peer-link/index.js";

const SECRET = "bench-cluster-key";

async function runServer(secret: string | undefined): Promise<void> {
  const router = new UpgradeRouter();
  const link = new PeerLinkServer({
    nodeId: "server",
    keyring: Keyring.fromSecret(secret),
    handler: async (call) => ({ echo: call.params }),
  });
  link.attach(router);
  const http = createServer((_req, res) => res.end("ok"));
  http.on("upgrade", router.handle);
  http.listen(0, "127.0.0.1", () => {
    process.stdout.write(`${JSON.stringify({ port: (http.address() as { port: number }).port })}\n`);
  });
  process.stdin.on("end", () => process.exit(0)); // parent gone → exit
  process.on("SIGTERM", () => process.exit(0)); // exit cleanly so --cpu-prof can write
  process.stdin.resume();
}

async function startChild(secret: string | undefined): Promise<{ child: ChildProcess; port: number }> {
  const args = [...process.execArgv, fileURLToPath(import.meta.url), "--server"];
  if (secret) args.push(secret);
  const child = spawn(process.execPath, args, { stdio: ["pipe", "pipe", "inherit"] });
  const line = await new Promise<string>((resolve, reject) => {
    const rl = createInterface({ input: child.stdout! });
    rl.on("line", (l) => {
      if (l.startsWith('{"port"')) resolve(l);
    });
    child.once("exit", (code) => reject(new Error(`server exited with ${code}`)));
  });
  return { child, port: (JSON.parse(line) as { port: number }).port };
}

interface CaseResult {
  mode: string;
  inFlight: number;
  calls: number;
  perSecond: number;
  p50: number;
  p99: number;
}

async function runCase(pool: PeerLinkPool, target: LinkTarget, inFlight: number, seconds: number, mode: string): Promise<CaseResult> {
  const call: LinkCall = {
    service: "bench",
    method: "echo",
    params: { a: 1, b: "hello world", c: [1, 2, 3] },
    caller: { sub: "bench", role: "service" },
    timeoutMs: 5000,
  };
  // Warm-up: JIT, connection, buffers.
  const warmEnd = performance.now() + 500;
  await Promise.all(Array.from({ length: inFlight }, async () => {
    while (performance.now() < warmEnd) await pool.call(target, call);
  }));
  const latencies = new Float64Array(4_000_000);
  let count = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  await Promise.all(Array.from({ length: inFlight }, async () => {
    while (performance.now() < end) {
      const t0 = performance.now();
      await pool.call(target, call);
      if (count < latencies.length) latencies[count] = performance.now() - t0;
      count++;
    }
  }));
  const elapsed = (performance.now() - start) / 1000;
  const sorted = latencies.subarray(0, Math.min(count, latencies.length)).sort();
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  if (process.argv.includes("--verbose")) {
    console.error(pool.stats());
    console.error(mode, inFlight, "p90", at(0.9), "p95", at(0.95), "p999", at(0.999), "max", sorted[sorted.length - 1]);
  }
  return { mode, inFlight, calls: count, perSecond: count / elapsed, p50: at(0.5), p99: at(0.99) };
}

async function main(): Promise<void> {
  const secondsArg = process.argv.indexOf("--seconds");
  const seconds = secondsArg > 0 ? Number(process.argv[secondsArg + 1]) : 3;
  const onlyArg = process.argv.indexOf("--only");
  const only = onlyArg > 0 ? process.argv[onlyArg + 1] : undefined; // e.g. "aes-gcm:100"
  const results: CaseResult[] = [];
  for (const [mode, secret] of [["aes-gcm", SECRET], ["plaintext", undefined]] as const) {
    if (only && !only.startsWith(mode)) continue;
    const { child, port } = await startChild(secret);
    const pool = new PeerLinkPool({ nodeId: "client", keyring: Keyring.fromSecret(secret) });
    const target = { nodeId: "server", host: "127.0.0.1", port };
    try {
      for (const inFlight of [1, 100]) {
        if (only && only !== `${mode}:${inFlight}`) continue;
        results.push(await runCase(pool, target, inFlight, seconds, mode));
      }
    } finally {
      await pool.close();
      child.kill();
    }
  }
  console.log(`peer link, client and server in two processes, loopback, ${seconds}s per case, node ${process.version}`);
  console.log("mode       in-flight      calls    calls/s   p50 ms   p99 ms");
  for (const r of results) {
    console.log(
      `${r.mode.padEnd(10)} ${String(r.inFlight).padStart(9)} ${String(r.calls).padStart(10)} ${Math.round(r.perSecond).toString().padStart(10)} ${r.p50.toFixed(3).padStart(8)} ${r.p99.toFixed(3).padStart(8)}`,
    );
  }
}

if (process.argv.includes("--server")) {
  const i = process.argv.indexOf("--server");
  void runServer(process.argv[i + 1]);
} else {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
