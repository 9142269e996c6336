/**
 * Node identity costs, both modes in the same run on 127.0.0.1:
 *  1. service-to-service calls across two node processes (caller pinned to core 0, callee to
 *     core 1) at 1 and 100 in flight: peer link with the cluster key only (AES-GCM) vs with
 *     node certificates (mutual TLS around it);
 *  2. opening a node stream: TCP + upgrade (cluster key only) vs TLS handshake + upgrade;
 *  3. RSS of each node after the runs;
 *  4. a liveness proof: sign and verify (ECDSA P-256).
 * Run: npx tsx bench/tls.ts (BENCH_SECONDS=5 by default).
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { TokenService } from "../src/auth/tokens.js";
import { initCa, issueNodeCertificate } from "../src/identity/ca.js";
import { NodeTls } from "../src/identity/node-tls.js";
import { CertificateProofs } from "../src/identity/liveness-proofs.js";
import { aliveStatement } from "../src/cluster/membership/proofs.js";
import { connectUpgrade } from "../src/transport/upgrade.js";
import { httpsRequest } from "../src/cli/https-request.js";
import { BENCH_SECRETS, retryUntil, rssMiB, spawnProcess, stop } from "./lib.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const secrets = BENCH_SECRETS;
const token = await new TokenService(secrets.P2P_JWT_SECRET).issue("bench", "admin", 3600);

interface DriveResult {
  rps: number;
  p50_ms: number;
  p99_ms: number;
  calls: number;
}

const pki = mkdtempSync(join(tmpdir(), "p2p-bench-pki-"));
const { certFile: caFile } = await initCa({ dir: pki });
for (const id of ["bench-tls-a", "bench-tls-b", "bench-tls-probe"]) await issueNodeCertificate({ dir: pki, nodeId: id, hosts: ["127.0.0.1"] });
const ca = (await import("node:fs")).readFileSync(caFile, "utf8");
const tlsArgs = (id: string) => ["--tls-cert", join(pki, `${id}.crt`), "--tls-key", join(pki, `${id}.key`), "--tls-ca", caFile];

async function rpc<T>(base: string, path: string, params: object): Promise<T> {
  const init = { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify({ params }) };
  const text = base.startsWith("https:") ? (await httpsRequest(`${base}/rpc/${path}`, { ...init, ca, timeoutMs: 60_000 })).text : await (await fetch(`${base}/rpc/${path}`, init)).text();
  const body = JSON.parse(text) as { result?: T; error?: unknown };
  if (!body.result) throw new Error(`${path}: ${JSON.stringify(body.error)}`);
  return body.result;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function streamOpenMs(port: number, tls: boolean): Promise<number> {
  const probe = tls ? NodeTls.load({ certFile: join(pki, "bench-tls-probe.crt"), keyFile: join(pki, "bench-tls-probe.key"), caFiles: [caFile] }, "bench-tls-probe") : null;
  const samples: number[] = [];
  // At most 25: a stream that never proves the key holds one of the 32 places of its source
  // address until the node's 3 s limit (the server side is half-open after our close).
  for (let i = 0; i < 25; i++) {
    const started = process.hrtime.bigint();
    const socket = await connectUpgrade("127.0.0.1", port, "p2p-sync", 5_000, probe?.clientOptions(null));
    samples.push(Number(process.hrtime.bigint() - started) / 1e6);
    socket.destroy();
  }
  return median(samples.slice(5));
}

async function run(mode: "aes-gcm" | "mtls", ports: [number, number]) {
  const tls = mode === "mtls";
  const [portA, portB] = ports;
  const idA = tls ? "bench-tls-a" : `bench-a-${portA}`;
  const idB = tls ? "bench-tls-b" : `bench-b-${portB}`;
  const node = (core: number, role: string, port: number, id: string, dir: string, extra: string[]) =>
    spawnProcess("taskset", ["-c", String(core), process.execPath, join(root, "bin/p2p.js"), role, "--port", String(port), "--node-id", id, "--log-file", `/tmp/p2p-bench-${id}.log`, "--services-dir", join(root, "bench/services", dir), ...(tls ? tlsArgs(id) : []), ...extra], secrets);
  const a = node(0, "coordinator", portA, idA, "caller", []);
  const b = node(1, "worker", portB, idB, "callee", ["--coord", `127.0.0.1:${portA}`]);
  const base = `${tls ? "https" : "http"}://127.0.0.1:${portA}`;
  try {
    await retryUntil(() => rpc(base, "bench_echo/echo", {}), 30_000);
    const out: Record<number, DriveResult> = {};
    for (const concurrency of [1, 100]) {
      await rpc(base, "bench_driver/run", { target: "bench_echo", method: "echo", seconds: 1, concurrency });
      out[concurrency] = await rpc<DriveResult>(base, "bench_driver/run", { target: "bench_echo", method: "echo", seconds: SECONDS, concurrency });
    }
    const openMs = await streamOpenMs(portB, tls);
    return { calls: out, openMs, rss: [rssMiB(a.pid!), rssMiB(b.pid!)] };
  } finally {
    await stop(a);
    await stop(b);
  }
}

// BENCH_TLS_FIRST=1 runs the mTLS pair first (to see whether order favours either mode).
const mtlsFirst = process.env.BENCH_TLS_FIRST === "1";
const first = await run(mtlsFirst ? "mtls" : "aes-gcm", [19401, 19402]);
const second = await run(mtlsFirst ? "aes-gcm" : "mtls", [19403, 19404]);
const [plain, mtls] = mtlsFirst ? [second, first] : [first, second];
console.log(`\norder: ${mtlsFirst ? "mTLS first" : "cluster key only first"}`);

const ratio = (x: number, y: number) => (y === 0 ? "-" : (x / y).toFixed(2));
console.log(`\nservice-to-service calls across two processes, ${SECONDS} s each (same run)`);
console.log("in flight | cluster key only: calls/s  p50 ms | mTLS: calls/s  p50 ms | mTLS/key calls/s");
for (const c of [1, 100]) {
  const p = plain.calls[c]!;
  const m = mtls.calls[c]!;
  console.log(`${String(c).padStart(9)} | ${String(p.rps).padStart(24)}  ${p.p50_ms.toFixed(2).padStart(6)} | ${String(m.rps).padStart(13)}  ${m.p50_ms.toFixed(2).padStart(6)} | ${ratio(m.rps, p.rps)}`);
}
console.log(`opening a node stream (median of 20): key only ${plain.openMs.toFixed(2)} ms, mTLS ${mtls.openMs.toFixed(2)} ms (${ratio(mtls.openMs, plain.openMs)}x)`);
console.log(`RSS after the runs (caller, callee): key only ${plain.rss.join(", ")} MiB; mTLS ${mtls.rss.join(", ")} MiB`);

const signer = new CertificateProofs(NodeTls.load({ certFile: join(pki, "bench-tls-a.crt"), keyFile: join(pki, "bench-tls-a.key"), caFiles: [caFile] }, "bench-tls-a"));
const statement = aliveStatement("bench-tls-a", "127.0.0.1:19403", 7, new Uint8Array(300));
const N = 2000;
let t = process.hrtime.bigint();
let proof = signer.sign(statement);
for (let i = 0; i < N; i++) proof = signer.sign(statement);
const signUs = Number(process.hrtime.bigint() - t) / 1e3 / N;
t = process.hrtime.bigint();
for (let i = 0; i < N; i++) if (signer.verify("bench-tls-a", statement, proof) !== true) throw new Error("proof does not verify");
const verifyUs = Number(process.hrtime.bigint() - t) / 1e3 / N;
console.log(`liveness proof (ECDSA P-256, ${proof.length} bytes): sign ${signUs.toFixed(0)} µs, verify ${verifyUs.toFixed(0)} µs`);
