import { performance } from "node:perf_hooks";
import { BaseService, serviceMethod } from "p2p-core";

interface RunParams {
  target: string;
  method: string;
  seconds: number;
  concurrency: number;
}

/** Drives service-to-service calls through this.proxy for a bounded time and reports rate and latency. */
export default class BenchDriver extends BaseService {
  static SERVICE_NAME = "bench_driver";

  @serviceMethod({ timeout_ms: 120_000 })
  async run({ target, method, seconds, concurrency }: RunParams) {
    const call = this.proxyFor(target)[method]!;
    const bounded = Math.min(Math.max(seconds, 0.5), 30);
    const until = performance.now() + bounded * 1000;
    const latencies: number[] = [];
    let errors = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: Math.min(concurrency, 1000) }, async () => {
        while (performance.now() < until) {
          const t = performance.now();
          try {
            await call({ x: 1, s: "payload" });
            latencies.push(performance.now() - t);
          } catch {
            errors += 1;
          }
        }
      }),
    );
    const elapsed = (performance.now() - started) / 1000;
    latencies.sort((a, b) => a - b);
    const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
    return { calls: latencies.length, errors, rps: Math.round(latencies.length / elapsed), p50_ms: at(0.5), p99_ms: at(0.99) };
  }
}
