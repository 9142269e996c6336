/**
 * Peer link throughput and latency between two processes on loopback.
 *   npx tsx bench/peer-link.ts [--seconds 3] [--only aes-gcm:100] [--verbose]
 *   npx tsx bench/peer-link.ts --seal      the record sealing options, in one process (see sealOptions)
 * The parent spawns a child running a node:http server + UpgradeRouter + PeerLinkServer
 * (echo handler), then drives it through a PeerLinkPool with 1 and 100 calls in flight,
 * with a cluster key (AES-256-GCM records) and in development mode (plaintext).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createCipheriv, createDecipheriv, createHmac, hash, randomBytes, timingSafeEqual } from "node:crypto";
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

/**
 * What sealing and opening one record costs, per option Node's crypto offers (best of 5 rounds):
 *  - gcm: a fresh AES-256-GCM cipher and decipher per record (what the link does; Node cannot
 *    re-key a GCM context with a new nonce, so one createCipheriv per record is the floor);
 *  - ctr+hash: one AES-256-CTR keystream per connection direction (no per-record setup) and an
 *    HMAC-SHA256 tag built from two one-shot crypto.hash calls (encrypt-then-MAC);
 *  - ctr+hmac: the same with createHmac per record.
 */
function sealOptions(): void {
  const key = randomBytes(32);
  const macKey = randomBytes(32);
  const rounds = 5;
  const n = 20_000;
  console.log(`record sealing + opening, µs per record, best of ${rounds} rounds of ${n}, node ${process.version}`);
  for (const size of [200, 4000, 60_000]) {
    const msg = randomBytes(size);
    const gcm = (): (() => Buffer) => {
      const sn = Buffer.alloc(12);
      const rn = Buffer.alloc(12);
      let sc = 0;
      let rc = 0;
      return () => {
        sn.writeUInt32BE(++sc, 8);
        const c = createCipheriv("aes-256-gcm", key, sn);
        const ct = c.update(msg);
        c.final();
        const record = Buffer.concat([ct, c.getAuthTag()]);
        rn.writeUInt32BE(++rc, 8);
        const d = createDecipheriv("aes-256-gcm", key, rn);
        d.setAuthTag(record.subarray(record.length - 16));
        const pt = d.update(record.subarray(0, record.length - 16));
        d.final();
        return pt;
      };
    };
    const pads = (k: Buffer): [Buffer, Buffer] => {
      const inner = Buffer.alloc(64, 0x36);
      const outer = Buffer.alloc(96, 0x5c);
      for (let j = 0; j < 32; j++) {
        inner[j]! ^= k[j]!;
        outer[j]! ^= k[j]!;
      }
      return [inner, outer];
    };
    /** One connection-long AES-CTR stream each way, a record tagged by `mac(sequence, ciphertext)`. */
    const ctrWith = (mac: (seq: number, ct: Buffer) => Buffer): (() => Buffer) => {
      const enc = createCipheriv("aes-256-ctr", key, Buffer.alloc(16));
      const dec = createDecipheriv("aes-256-ctr", key, Buffer.alloc(16));
      let sc = 0;
      let rc = 0;
      return () => {
        const ct = enc.update(msg);
        const record = Buffer.concat([ct, mac(++sc, ct).subarray(0, 16)]);
        const body = record.subarray(0, record.length - 16);
        if (!timingSafeEqual(mac(++rc, body).subarray(0, 16), record.subarray(record.length - 16))) throw new Error("tag");
        return dec.update(body);
      };
    };
    const ctrHash = (): (() => Buffer) => {
      const [inner, outer] = pads(macKey);
      const scratch = Buffer.alloc(64 + 8 + size);
      inner.copy(scratch);
      return ctrWith((seq, ct) => {
        scratch.writeUInt32BE(seq, 68);
        ct.copy(scratch, 72);
        outer.set(hash("sha256", scratch, "buffer"), 64);
        return hash("sha256", outer, "buffer");
      });
    };
    const ctrHmac = (): (() => Buffer) => {
      const seq = Buffer.alloc(8);
      return ctrWith((counter, ct) => {
        seq.writeUInt32BE(counter, 4);
        return createHmac("sha256", macKey).update(seq).update(ct).digest();
      });
    };
    const cases: Record<string, () => Buffer> = { gcm: gcm(), "ctr+hash": ctrHash(), "ctr+hmac": ctrHmac() };
    const best: Record<string, number> = {};
    for (const [name, run] of Object.entries(cases)) if (!run().equals(msg)) throw new Error(`${name} does not round-trip`);
    for (let round = 0; round < rounds; round++) {
      for (const [name, run] of Object.entries(cases)) {
        const t0 = performance.now();
        for (let i = 0; i < n; i++) run();
        best[name] = Math.min(best[name] ?? Infinity, ((performance.now() - t0) * 1000) / n);
      }
    }
    console.log(`${String(size).padStart(6)} bytes: ${Object.entries(best).map(([k, v]) => `${k} ${v.toFixed(2)}`).join("   ")}`);
  }
}

if (process.argv.includes("--seal")) {
  sealOptions();
} else if (process.argv.includes("--server")) {
  const i = process.argv.indexOf("--server");
  void runServer(process.argv[i + 1]);
} else {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
