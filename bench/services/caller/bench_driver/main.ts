import { performance } from "node:perf_hooks";
import { BaseService, serviceMethod } from "p2p-core";
import { LatencyHistogram } from "../../../latency.js";

interface RunParams {
  target: string;
  method: string;
  seconds: number;
  concurrency: number;
}

/**
 * Drives service-to-service calls through this.proxy for a bounded time and reports rate and
 * latency (the bench_driver of every RPC bench: local/ and scale/ link to this folder).
 */
export default class BenchDriver extends BaseService {
  static SERVICE_NAME = "bench_driver";

  @serviceMethod({ timeout_ms: 120_000 })
  async run({ target, method, seconds, concurrency }: RunParams) {
    const call = this.proxyFor(target)[method]!;
    const bounded = Math.min(Math.max(seconds, 0.5), 30);
    const until = performance.now() + bounded * 1000;
    const latencies = new LatencyHistogram();
    let errors = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: Math.min(concurrency, 1000) }, async () => {
        while (performance.now() < until) {
          const t = performance.now();
          try {
            await call({ x: 1, s: "payload" });
            latencies.record(performance.now() - t);
          } catch {
            errors += 1;
          }
        }
      }),
    );
    const elapsed = (performance.now() - started) / 1000;
    return { calls: latencies.count, errors, rps: Math.round(latencies.count / elapsed), p50_ms: latencies.quantile(0.5), p99_ms: latencies.quantile(0.99) };
  }
}
