/**
 * The issue's network probes against one real node (loopback only, every loop bounded):
 *   A. unauthenticated streams: SOURCES addresses each keep STREAMS_PER_SOURCE `p2p-sync` or
 *      `p2p-link` upgrades open for FLOOD_S seconds (reopened as soon as they are cut), each
 *      announcing an 8 MiB frame and then sending one byte every 4 s (the issue's probe), then
 *      the same announcing 500 bytes (within every limit: a slowloris); RSS sampled throughout;
 *   B. 5,000 bad `p2p-link` handshakes from one address: log lines and bytes they cost;
 *   C. UDP: 200,000 packets (half garbage, half sealed with another key): RSS, log lines,
 *      /health latency during the flood;
 *   D. SIGTERM under slow clients: a 40 s call with a 10-minute deadline, 200 slow senders
 *      (POST /auth/token announcing 100 kB, a byte a second), 100 trickling unauthenticated
 *      streams, 50 idle keep-alive connections: time to exit.
 * Run: npx tsx bench/hostile-net.ts   (PROBES=A,B,C,D by default)
 */
import { createSocket } from "node:dgram";
import { readFileSync, statSync } from "node:fs";
import { request } from "node:http";
import { connect, type Socket } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { TokenService } from "../src/auth/tokens.js";
import { Keyring } from "../src/security/keyring.js";
import { BENCH_SECRETS, rssMiB, spawnProcess, waitHttp } from "./lib.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const SOURCES = Number(process.env.SOURCES ?? 8);
const STREAMS_PER_SOURCE = Number(process.env.STREAMS_PER_SOURCE ?? 40);
const FLOOD_S = Number(process.env.FLOOD_S ?? 30);
const secrets = BENCH_SECRETS;
const token = await new TokenService(secrets.P2P_JWT_SECRET).issue("bench", "admin", 3600);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round = (v: number) => Math.round(v * 10) / 10;

function startNode(port: number) {
  const log = `/tmp/p2p-bench-hostile-net-${port}.log`;
  const node = spawnProcess(process.execPath, [join(root, "bin/p2p.js"), "coordinator", "--port", String(port), "--node-id", `bench-net-${port}`, "--log-file", log], secrets);
  return { node, log, port };
}

/** An upgraded stream from `localAddress`; resolves with the status line (or "error"). */
function upgrade(port: number, protocol: string, localAddress: string): Promise<{ socket: Socket; status: string }> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port, localAddress });
    socket.on("error", () => resolve({ socket, status: "error" }));
    let head = "";
    const onData = (chunk: Buffer) => {
      head += chunk.toString("latin1");
      if (!head.includes("\r\n\r\n")) return;
      socket.removeListener("data", onData);
      resolve({ socket, status: head.split("\r\n")[0]! });
    };
    socket.on("data", onData);
    socket.once("connect", () => socket.write(`GET /_p2p/${protocol} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: ${protocol}\r\n\r\n`));
  });
}

async function probeStreams(announce: number, dripMs: number): Promise<string> {
  const { node, port } = startNode(announce > 1024 ? 19481 : 19485);
  await waitHttp(`http://127.0.0.1:${port}/health`);
  await sleep(1_000);
  const before = rssMiB(node.pid!);
  let peak = before;
  const counts = { attempts: 0, accepted: 0, refused: 0 };
  const heldMs: number[] = [];
  const deadline = Date.now() + FLOOD_S * 1000;
  const worker = async (source: string, protocol: string): Promise<void> => {
    while (Date.now() < deadline) {
      counts.attempts++;
      const { socket, status } = await upgrade(port, protocol, source);
      if (!status.startsWith("HTTP/1.1 101")) {
        if (status.startsWith("HTTP/1.1 503")) counts.refused++;
        socket.destroy();
        await sleep(200); // a refused attacker retries at once, but not in a hot loop
        continue;
      }
      counts.accepted++;
      const opened = Date.now();
      const header = Buffer.alloc(4);
      header.writeUInt32BE(announce);
      socket.write(header);
      const drip = setInterval(() => socket.writable && socket.write("x"), dripMs);
      await new Promise<void>((r) => socket.once("close", () => r()));
      clearInterval(drip);
      heldMs.push(Date.now() - opened);
    }
  };
  const sampler = setInterval(() => (peak = Math.max(peak, rssMiB(node.pid!))), 500);
  const workers: Promise<void>[] = [];
  for (let s = 0; s < SOURCES; s++) {
    for (let i = 0; i < STREAMS_PER_SOURCE; i++) workers.push(worker(`127.0.0.${s + 2}`, i % 2 === 0 ? "p2p-sync" : "p2p-link"));
  }
  const healthDuring: number[] = [];
  while (Date.now() < deadline) {
    const t0 = Date.now();
    const ok = (await fetch(`http://127.0.0.1:${port}/health`)).ok;
    healthDuring.push(ok ? Date.now() - t0 : Number.POSITIVE_INFINITY);
    await sleep(1_000);
  }
  await Promise.all(workers);
  await sleep(5_000);
  clearInterval(sampler);
  const after = rssMiB(node.pid!);
  node.kill("SIGTERM");
  heldMs.sort((a, b) => a - b);
  const p = (q: number) => heldMs[Math.min(heldMs.length - 1, Math.floor(q * heldMs.length))] ?? 0;
  return [
    `### A. Unauthenticated streams: ${SOURCES} addresses × ${STREAMS_PER_SOURCE} streams kept open for ${FLOOD_S} s (half p2p-sync, half p2p-link; a ${announce.toLocaleString("en")}-byte frame announced, then a byte every ${dripMs / 1000} s)`,
    "",
    "| RSS before MiB | RSS peak MiB | RSS 5 s after MiB | upgrades tried | accepted (101) | refused (503) | held until cut p50 / max ms | /health during flood max ms |",
    "|---|---|---|---|---|---|---|---|",
    `| ${before} | ${peak} | ${after} | ${counts.attempts} | ${counts.accepted} | ${counts.refused} | ${p(0.5)} / ${heldMs.at(-1) ?? 0} | ${Math.max(...healthDuring)} |`,
  ].join("\n");
}

async function probeBadHandshakes(): Promise<string> {
  const { node, port, log } = startNode(19482);
  await waitHttp(`http://127.0.0.1:${port}/health`);
  const sizeBefore = statSync(log).size;
  const linesBefore = readFileSync(log, "utf8").split("\n").length;
  const garbage = Buffer.concat([Buffer.from([0, 0, 0, 8]), Buffer.from("not json")]);
  const started = Date.now();
  for (let batch = 0; batch < 250; batch++) {
    await Promise.all(
      Array.from({ length: 20 }, async () => {
        const { socket } = await upgrade(port, "p2p-link", "127.0.0.20");
        await new Promise<void>((r) => {
          socket.once("close", () => r());
          socket.end(garbage);
        });
      }),
    );
  }
  const floodS = (Date.now() - started) / 1000;
  await sleep(21_000); // the summary line closes the 10 s interval
  const text = readFileSync(log, "utf8");
  const lines = text.split("\n").length - linesBefore;
  const bytes = statSync(log).size - sizeBefore;
  const handshakeLines = text.split("\n").filter((l) => l.includes("peer link handshake failed")).length;
  node.kill("SIGTERM");
  return [
    "### B. 5,000 bad p2p-link handshakes from one address (20 at a time)",
    "",
    "| flood s | log lines written (all) | of which handshake warnings | log bytes |",
    "|---|---|---|---|",
    `| ${round(floodS)} | ${lines} | ${handshakeLines} | ${bytes} |`,
  ].join("\n");
}

async function probeUdp(): Promise<string> {
  const { node, port, log } = startNode(19483);
  await waitHttp(`http://127.0.0.1:${port}/health`);
  await sleep(1_000);
  const before = rssMiB(node.pid!);
  const linesBefore = readFileSync(log, "utf8").split("\n").length;
  const wrongKey = Keyring.fromSecret("another-cluster-key");
  const sock = createSocket("udp4");
  await new Promise<void>((r) => sock.bind(0, "127.0.0.30", () => r()));
  const packets = [Buffer.from("garbage".repeat(50)), wrongKey.seal(Buffer.alloc(300, 7), "gossip")];
  let peak = before;
  const health: number[] = [];
  const healthLoop = (async () => {
    for (let i = 0; i < 10; i++) {
      const t0 = Date.now();
      await fetch(`http://127.0.0.1:${port}/health`).catch(() => undefined);
      health.push(Date.now() - t0);
      peak = Math.max(peak, rssMiB(node.pid!));
      await sleep(300);
    }
  })();
  const started = Date.now();
  const TOTAL = 200_000;
  for (let i = 0; i < TOTAL; i += 500) {
    await Promise.all(Array.from({ length: 500 }, (_, j) => new Promise<void>((r) => sock.send(packets[(i + j) % 2]!, port, "127.0.0.1", () => r()))));
  }
  const floodS = (Date.now() - started) / 1000;
  await healthLoop;
  sock.close();
  const metrics = await new Promise<string>((resolve) => {
    request({ host: "127.0.0.1", port, path: "/metrics", headers: { authorization: `Bearer ${token}` } }, (res) => {
      let body = "";
      res.on("data", (d: Buffer) => (body += d.toString()));
      res.on("end", () => resolve(body));
    }).end();
  });
  const dropped = /p2p_gossip_dropped_total\{reason="unauthenticated"[^}]*\} (\d+)/.exec(metrics)?.[1] ?? "?";
  const lines = readFileSync(log, "utf8").split("\n").length - linesBefore;
  const after = rssMiB(node.pid!);
  node.kill("SIGTERM");
  return [
    `### C. UDP: ${TOTAL.toLocaleString("en")} packets from one address (garbage and another key's seals)`,
    "",
    "| sent in s | dropped as unauthenticated (node's count) | RSS before / peak / after MiB | /health during max ms | log lines |",
    "|---|---|---|---|---|",
    `| ${round(floodS)} | ${dropped} | ${before} / ${peak} / ${after} | ${Math.max(...health)} | ${lines} |`,
  ].join("\n");
}

async function probeShutdown(): Promise<string> {
  const { node, port, log } = startNode(19484);
  await waitHttp(`http://127.0.0.1:${port}/health`);
  const long = new Promise<number>((resolve) => {
    const req = request({ host: "127.0.0.1", port, path: "/rpc/example_service/sleep", method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json", "x-p2p-timeout-ms": "600000" } }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("error", () => resolve(0));
    req.end(JSON.stringify({ params: { ms: 40_000 } }));
  });
  const sockets: Socket[] = [];
  for (let i = 0; i < 200; i++) {
    const s = connect(port, "127.0.0.1");
    s.on("error", () => undefined);
    s.write("POST /auth/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{");
    sockets.push(s);
  }
  for (let i = 0; i < 50; i++) {
    const s = connect(port, "127.0.0.1");
    s.on("error", () => undefined);
    s.write("GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
    sockets.push(s);
  }
  // 100 trickling unauthenticated streams, refreshed as they are cut (from 4 addresses).
  let trickling = true;
  const streams = Array.from({ length: 100 }, async (_, i) => {
    while (trickling) {
      const { socket } = await upgrade(port, i % 2 ? "p2p-link" : "p2p-sync", `127.0.0.${40 + (i % 4)}`);
      sockets.push(socket);
      socket.write(Buffer.from([0, 0, 0x10, 0]));
      await new Promise<void>((r) => socket.once("close", () => r()));
    }
  });
  const drip = setInterval(() => sockets.forEach((s) => s.writable && s.write(" ")), 1_000);
  await sleep(3_000);
  const started = Date.now();
  const exited = new Promise<number | null>((resolve) => node.once("exit", (code) => resolve(code)));
  node.kill("SIGTERM");
  const code = await exited;
  const exitS = (Date.now() - started) / 1000;
  trickling = false;
  clearInterval(drip);
  sockets.forEach((s) => s.destroy());
  await Promise.all(streams);
  const status = await long;
  const text = readFileSync(log, "utf8");
  const at = (msg: string) => {
    const line = text.split("\n").find((l) => l.includes(`"msg":"${msg}"`));
    return Date.parse(line ? (JSON.parse(line) as { time: string }).time : "");
  };
  return [
    "### D. SIGTERM under slow clients (a 40 s call with a 10 min deadline, 200 slow senders, 50 idle keep-alive, 100 trickling unauthenticated streams)",
    "",
    "| exit code | exit seen by bench s | stop per node log s | the 40 s call answered |",
    "|---|---|---|---|",
    `| ${code} | ${round(exitS)} | ${round((at("node stopped") - at("shutting down")) / 1000)} | ${status} |`,
  ].join("\n");
}

const PROBES = (process.env.PROBES ?? "A,B,C,D").split(",");
const sections: string[] = [];
if (PROBES.includes("A")) sections.push(await probeStreams(8 * 1024 * 1024, 4_000), await probeStreams(500, 1_000));
if (PROBES.includes("B")) sections.push(await probeBadHandshakes());
if (PROBES.includes("C")) sections.push(await probeUdp());
if (PROBES.includes("D")) sections.push(await probeShutdown());
console.log(`\n## Hostile network input against one node\n\n${sections.join("\n\n")}`);
