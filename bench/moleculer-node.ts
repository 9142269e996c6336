/**
 * Moleculer 0.15 side of bench/rpc-cluster.ts. `callee PORT`: a broker with the TCP transporter
 * serving bench.echo. `caller PORT CALLEE_PORT SECONDS CONCURRENCY`: calls it, prints JSON.
 * `local SECONDS CONCURRENCY`: one broker, metrics on, local calls. Loopback only.
 */
import { performance } from "node:perf_hooks";
import net from "node:net";
import { ServiceBroker } from "moleculer";
import { LatencyHistogram } from "./latency.js";

// Moleculer's TCP transporter has no bind option: keep its server on loopback.
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (this: net.Server, ...args: unknown[]) {
  const first = args[0];
  if (first && typeof first === "object" && !("host" in first)) args[0] = { ...first, host: "127.0.0.1" };
  return (listen as (...a: unknown[]) => net.Server).apply(this, args);
} as typeof net.Server.prototype.listen;

const [mode, ...args] = process.argv.slice(2);

function tcp(port: number, peers: string[]) {
  return { type: "TCP" as const, options: { udpDiscovery: false, port, ...(peers.length > 0 ? { urls: peers.join(",") } : {}) } };
}

async function drive(broker: ServiceBroker, action: string, seconds: number, concurrency: number) {
  const until = performance.now() + seconds * 1000;
  const latencies = new LatencyHistogram();
  const started = performance.now();
  const cpu = process.cpuUsage();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < until) {
        const t = performance.now();
        await broker.call(action, { x: 1, s: "payload" });
        latencies.record(performance.now() - t);
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  const cpu_us = Math.round(((used.user + used.system) / Math.max(1, latencies.count)) * 100) / 100;
  return { calls: latencies.count, rps: Math.round(latencies.count / elapsed), p50_ms: latencies.quantile(0.5), p99_ms: latencies.quantile(0.99), cpu_us };
}

const echo = { name: "bench", actions: { echo: (ctx: { params: unknown }) => ctx.params } };

if (mode === "callee") {
  const port = Number(args[0]);
  const broker = new ServiceBroker({ nodeID: "callee", logger: false, transporter: tcp(port, []) });
  broker.createService(echo);
  await broker.start();
  process.stdout.write("ready\n");
  process.on("SIGTERM", () => void broker.stop().then(() => process.exit(0)));
} else if (mode === "caller") {
  const [port, calleePort, seconds, concurrency] = args.map(Number) as [number, number, number, number];
  const broker = new ServiceBroker({ nodeID: "caller", logger: false, transporter: tcp(port, [`127.0.0.1:${calleePort}/callee`]) });
  await broker.start();
  await broker.waitForServices(["bench"], 60_000);
  const warm = await drive(broker, "bench.echo", 1, concurrency);
  const cpu0 = process.cpuUsage();
  const measured = await drive(broker, "bench.echo", seconds, concurrency);
  const cpu = process.cpuUsage(cpu0);
  process.stdout.write(JSON.stringify({ ...measured, warm_calls: warm.calls, cpu_ms: (cpu.user + cpu.system) / 1000 }) + "\n");
  await broker.stop();
} else if (mode === "local") {
  const [seconds, concurrency] = args.map(Number) as [number, number];
  const broker = new ServiceBroker({ nodeID: "local", logger: false, metrics: { enabled: true } });
  broker.createService(echo);
  await broker.start();
  await drive(broker, "bench.echo", 1, concurrency);
  process.stdout.write(JSON.stringify(await drive(broker, "bench.echo", seconds, concurrency)) + "\n");
  await broker.stop();
}
