/** Shared by benchmarks: start processes, wait for them, run autocannon, read RSS. */
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import autocannon from "autocannon";

/** The secrets every benchmark's nodes share (never used outside benchmarks on 127.0.0.1). */
export const BENCH_SECRETS = { P2P_JWT_SECRET: "bench-secret-0123456789abcdef", P2P_API_KEY: "bench-admin", P2P_CLUSTER_KEY: "bench-cluster" };

const stderrTails = new WeakMap<ChildProcess, string>();

export function spawnProcess(cmd: string, args: string[], env: Record<string, string> = {}): ChildProcess {
  const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  child.stdout!.resume();
  // The last 2 KB of stderr, so a process that dies at start can say why (see exitReport).
  child.stderr!.on("data", (chunk: Buffer) => stderrTails.set(child, ((stderrTails.get(child) ?? "") + chunk.toString()).slice(-2048)));
  return child;
}

/** How a benchmark's process ended ("" while it runs): exit code or signal, and its last stderr. */
export function exitReport(child: ChildProcess): string {
  if (child.exitCode === null && child.signalCode === null) return "";
  return `pid ${child.pid} exited (${child.exitCode ?? child.signalCode}): ${stderrTails.get(child) ?? "(no stderr)"}`;
}

/** Calls `attempt` every 200 ms until it resolves; rethrows its last error after `timeoutMs`. */
export async function retryUntil(attempt: () => Promise<unknown>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await attempt();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

export async function waitHttp(url: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(url)).status < 500) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms`);
}

export function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return Math.round((kb / 1024) * 10) / 10;
}

export interface LoadResult {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
}

export async function load(opts: { url: string; body: string; headers?: Record<string, string>; connections: number; seconds: number }): Promise<LoadResult> {
  const result = await autocannon({
    url: opts.url,
    method: "POST",
    body: opts.body,
    headers: { "content-type": "application/json", ...opts.headers },
    connections: opts.connections,
    duration: opts.seconds,
  });
  return { rps: Math.round(result.requests.average), p50: result.latency.p50, p99: result.latency.p99, errors: result.errors, non2xx: result.non2xx };
}

export function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const timer = setTimeout(() => child.kill("SIGKILL"), 12_000);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill("SIGTERM");
  });
}
