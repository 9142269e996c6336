/**
 * Memory and shutdown of one node under hostile HTTP load, with the local-execution cap at its
 * default (256) next to a baseline where it is effectively off (--max-local-calls 100000), in
 * one run: N concurrent slow calls (example_service.sleep, 20 s, deadline 10 min) plus 200 slow
 * senders (POST /auth/token announcing 100 kB, a byte a second); then SIGTERM.
 * Run: npx tsx bench/hostile-http.ts   (CALLS=8000 by default)
 */
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import { Agent, request } from "node:http";
import { connect, type Socket } from "node:net";
import { readFileSync } from "node:fs";
import { TokenService } from "../src/auth/tokens.js";
import { BENCH_SECRETS, rssMiB, spawnProcess, waitHttp } from "./lib.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const CALLS = Number(process.env.CALLS ?? 8000);
const SLOW_SENDERS = 200;
const secrets = BENCH_SECRETS;
const token = await new TokenService(secrets.P2P_JWT_SECRET).issue("bench", "admin", 3600);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Outcome {
  status: number;
}

function call(port: number, agent: Agent): Promise<Outcome> {
  return new Promise((resolve) => {
    const req = request({ host: "127.0.0.1", port, path: "/rpc/example_service/sleep", method: "POST", agent, headers: { authorization: `Bearer ${token}`, "content-type": "application/json", "x-p2p-timeout-ms": "600000" } }, (res) => {
      res.resume();
      res.on("end", () => resolve({ status: res.statusCode ?? 0 }));
    });
    req.on("error", () => resolve({ status: 0 }));
    req.end(JSON.stringify({ params: { ms: 20_000 } }));
  });
}

const rows: string[] = [];
for (const [label, cap] of [["cap off (baseline)", "100000"], ["default cap (256)", "256"]] as const) {
  const port = cap === "256" ? 19471 : 19472;
  const node = spawnProcess(process.execPath, [join(root, "bin/p2p.js"), "coordinator", "--port", String(port), "--node-id", `bench-hostile-${port}`, "--log-file", `/tmp/p2p-bench-hostile-${port}.log`, "--max-local-calls", cap], secrets);
  await waitHttp(`http://127.0.0.1:${port}/health`);
  const before = rssMiB(node.pid!);
  const agent = new Agent({ keepAlive: false, maxSockets: Infinity });
  const answers = Array.from({ length: CALLS }, () => call(port, agent));
  const senders: Socket[] = [];
  for (let i = 0; i < SLOW_SENDERS; i++) {
    const s = connect(port, "127.0.0.1");
    s.on("error", () => undefined);
    s.write("POST /auth/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{");
    senders.push(s);
  }
  const drip = setInterval(() => senders.forEach((s) => s.writable && s.write(" ")), 1_000);
  let peak = before;
  for (let i = 0; i < 16; i++) {
    await sleep(500);
    peak = Math.max(peak, rssMiB(node.pid!));
  }
  const stopped = Date.now();
  const exited = new Promise<number | null>((resolve) => node.once("exit", (code) => resolve(code)));
  node.kill("SIGTERM");
  const code = await exited;
  const exitS = (Date.now() - stopped) / 1000;
  clearInterval(drip);
  senders.forEach((s) => s.destroy());
  const outcomes = await Promise.all(answers);
  const count = (pick: (o: Outcome) => boolean) => outcomes.filter(pick).length;
  // The node's own account of its stop (the bench's clock is late when its loop is busy).
  const log = readFileSync(`/tmp/p2p-bench-hostile-${port}.log`, "utf8");
  const at = (msg: string) => {
    const line = log.split("\n").find((l) => l.includes(`"msg":"${msg}"`));
    return Date.parse(line ? (JSON.parse(line) as { time: string }).time : "");
  };
  const stopS = (at("node stopped") - at("shutting down")) / 1000;
  rows.push(
    `| ${label} | ${before} | ${peak} | +${Math.round((peak - before) * 10) / 10} | ${count((o) => o.status === 503)} | ${count((o) => o.status === 400)} | ${count((o) => o.status === 0)} | ${code} | ${stopS.toFixed(1)} | ${exitS.toFixed(1)} |`,
  );
}
console.log(`\n## Hostile HTTP load: ${CALLS} concurrent 20 s calls + ${SLOW_SENDERS} slow senders, then SIGTERM\n`);
console.log(
  "| node | RSS before MiB | RSS peak MiB | growth MiB | answered 503 (cap, or cut at shutdown) | answered 400 (not received in time) | no answer | exit code | stop per node log s | exit seen by bench s |\n|---|---|---|---|---|---|---|---|---|---|\n" +
    rows.join("\n"),
);
