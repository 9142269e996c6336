/**
 * Overhead of the resilient call pipeline on the hot path: the same trivial attempt
 * (an already-resolved promise) called directly and through callWithResilience with the
 * production pieces (system clock, least-latency balancer over 5 nodes, breakers,
 * bulkheads, a 30 s deadline per call). Sequential and 100-concurrent runs, best of 3.
 *
 *   npx tsx bench/pipeline.ts [calls]
 */
import { systemClock } from "../src/util/clock.js";
import { systemRandom } from "../src/util/random.js";
import type { Candidate } from "../src/rpc/balancers/index.js";
import { Deadline } from "../src/rpc/deadline.js";
import { callWithResilience, createPipelineDeps } from "../src/rpc/pipeline.js";

const N = Number(process.argv[2] ?? 300_000);
const CONCURRENCY = 100;
/** Best of a few rounds: a shared machine's noise only ever slows a round down. */
const ROUNDS = 3;
const candidates: Candidate[] = ["n1", "n2", "n3", "n4", "n5"].map((nodeId) => ({ nodeId, local: false }));
const deps = createPipelineDeps({ clock: systemClock, random: systemRandom, balancer: "least-latency" });
const result = { ok: true };
const attempt = (_nodeId: string, _remainingMs: number): Promise<{ ok: boolean }> => Promise.resolve(result);

const direct = (): Promise<unknown> => attempt("n1", 30_000);
const piped = (): Promise<unknown> =>
  callWithResilience(deps, {
    service: "bench",
    method: "noop",
    candidates,
    deadline: Deadline.after(30_000, systemClock),
    idempotent: true,
    attempt,
  });

async function sequential(fn: () => Promise<unknown>, n: number): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await fn();
  return n / ((performance.now() - t0) / 1000);
}

async function concurrent(fn: () => Promise<unknown>, n: number): Promise<number> {
  const t0 = performance.now();
  let next = 0;
  const worker = async () => {
    while (next++ < n) await fn();
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return n / ((performance.now() - t0) / 1000);
}

async function bestOf(rounds: number, measure: () => Promise<number>): Promise<number> {
  let best = 0;
  for (let i = 0; i < rounds; i++) best = Math.max(best, await measure());
  return best;
}

const fmt = (x: number) => Math.round(x).toLocaleString("en-US").padStart(12);

async function main(): Promise<void> {
  // Warm up both paths so the JIT has settled before measuring.
  await sequential(direct, 50_000);
  await sequential(piped, 50_000);
  console.log(
    `pipeline overhead: trivial attempt direct vs through callWithResilience, ` +
      `${N.toLocaleString("en-US")} calls, best of ${ROUNDS}, node ${process.version}`,
  );
  for (const [label, run] of [
    ["sequential", sequential],
    [`${CONCURRENCY} concurrent`, concurrent],
  ] as const) {
    const d = await bestOf(ROUNDS, () => run(direct, N));
    const p = await bestOf(ROUNDS, () => run(piped, N));
    console.log(
      `${label.padEnd(15)} direct ${fmt(d)} calls/s   pipeline ${fmt(p)} calls/s   ` +
        `ratio ${(d / p).toFixed(2)}x   overhead ${((1 / p - 1 / d) * 1e6).toFixed(2)} µs/call`,
    );
  }
}

await main();
