import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { createSocket } from "node:dgram";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { readFileSync } from "node:fs";
import { httpsRequest } from "../../src/cli/https-request.js";

export const REPO_ROOT = resolve(import.meta.dirname, "../..");
const BIN = join(REPO_ROOT, "bin/p2p.js");

/** Secrets shared by a test cluster (tests mint tokens with the same JWT secret). */
export const TEST_SECRETS = {
  P2P_JWT_SECRET: "test-jwt-secret-0123456789abcdef",
  P2P_API_KEY: "test-admin-key",
  P2P_CLIENT_KEY: "test-client-key",
  P2P_CLUSTER_KEY: "test-cluster-key",
};

/** A port free on TCP and UDP alike (a node uses the same number for both). */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await new Promise<number>((res, rej) => {
      const srv = createServer();
      srv.once("error", rej);
      srv.listen(0, "127.0.0.1", () => {
        const p = (srv.address() as { port: number }).port;
        srv.close(() => res(p));
      });
    });
    const udpFree = await new Promise<boolean>((res) => {
      const sock = createSocket("udp4");
      sock.once("error", () => res(false));
      sock.bind(port, "127.0.0.1", () => sock.close(() => res(true)));
    });
    if (udpFree) return port;
  }
  throw new Error("no free port");
}

export interface StartOptions {
  role?: "coordinator" | "worker";
  nodeId?: string;
  port?: number;
  args?: string[];
  env?: Record<string, string | undefined>;
  /** Use TEST_SECRETS (default true); false = development mode. */
  secrets?: boolean;
  cwd?: string;
  waitHealthy?: boolean;
  /** The CLI to run (default: this repo's bin/p2p.js), e.g. an application's installed copy. */
  bin?: string;
  /** Start with --tls-cert/--tls-key/--tls-ca: the node serves HTTPS (url is https://). */
  tls?: { certFile: string; keyFile: string; caFile: string };
}

export interface RunningNode {
  nodeId: string;
  port: number;
  url: string;
  /** With TLS: the CA PEM its HTTPS certificate chains to. */
  ca?: string;
  pid: number;
  child: ChildProcess;
  output(): string;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
  signal(sig: NodeJS.Signals): void;
  stop(): Promise<number | null>;
}

const running = new Set<RunningNode>();

export async function startNode(options: StartOptions = {}): Promise<RunningNode> {
  const role = options.role ?? "coordinator";
  const port = options.port ?? (await freePort());
  const nodeId = options.nodeId ?? `${role}-${port}`;
  const logDir = mkdtempSync(join(tmpdir(), "p2p-test-"));
  const tlsArgs = options.tls ? ["--tls-cert", options.tls.certFile, "--tls-key", options.tls.keyFile, "--tls-ca", options.tls.caFile] : [];
  const args = [options.bin ?? BIN, role, "--port", String(port), "--node-id", nodeId, "--log-file", join(logDir, "p2p.log"), ...tlsArgs, ...(options.args ?? [])];
  if (!args.includes("--services-dir")) args.push("--services-dir", join(REPO_ROOT, "services"));
  // Each node keeps its state (remembered peers) in its own temporary dir, unless the test
  // chose a working directory (then ./data there, as a user running the README would).
  if (!args.includes("--data-dir") && options.cwd === undefined) args.push("--data-dir", join(logDir, "data"));
  const env: Record<string, string | undefined> = { ...process.env, ...(options.secrets === false ? {} : TEST_SECRETS), ...options.env };
  for (const key of Object.keys(env)) if (env[key] === undefined) delete env[key];
  if (options.secrets === false) for (const key of Object.keys(TEST_SECRETS)) if (!options.env?.[key]) delete env[key];
  const child = spawn(process.execPath, args, { cwd: options.cwd ?? REPO_ROOT, env: env as NodeJS.ProcessEnv, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((res) => child.once("exit", (code) => res(code)));
  const node: RunningNode = {
    nodeId,
    port,
    url: `${options.tls ? "https" : "http"}://127.0.0.1:${port}`,
    ...(options.tls ? { ca: readFileSync(options.tls.caFile, "utf8") } : {}),
    pid: child.pid!,
    child,
    output: () => out,
    exited,
    signal: (sig) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(sig);
    },
    stop: async () => {
      node.signal("SIGTERM");
      const timer = setTimeout(() => node.signal("SIGKILL"), 15_000);
      const code = await exited;
      clearTimeout(timer);
      running.delete(node);
      return code;
    },
  };
  running.add(node);
  exited.then(() => running.delete(node));
  const healthy = node.ca
    ? async () => (await httpsRequest(`${node.url}/health`, { method: "GET", headers: {}, ca: node.ca, timeoutMs: 2_000 })).status === 200
    : async () => (await fetch(`${node.url}/health`)).ok;
  if (options.waitHealthy !== false) await waitFor(healthy, 45_000, () => `node ${nodeId} did not become healthy:\n${out}`, exited);
  return node;
}

/** Polls until check() is true or the deadline passes (no fixed sleeps). */
export async function waitFor(check: () => Promise<boolean> | boolean, timeoutMs: number, describe: () => string = () => "condition", abort?: Promise<unknown>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let aborted = false;
  abort?.then(() => (aborted = true));
  while (Date.now() < deadline) {
    if (aborted) throw new Error(`process exited while waiting: ${describe()}`);
    try {
      if (await check()) return;
    } catch {
      // not ready yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out after ${timeoutMs} ms: ${describe()}`);
}

export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((n) => n.stop()));
}

/** Runs the CLI to completion (for `p2p token`, bad flags, client commands); killed after `timeoutMs`. */
export function runCli(args: string[], env: Record<string, string | undefined> = {}, timeoutMs = 20_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((res) => {
    const fullEnv: Record<string, string | undefined> = { ...process.env, ...env };
    for (const key of Object.keys(fullEnv)) if (fullEnv[key] === undefined) delete fullEnv[key];
    const child = spawn(process.execPath, [BIN, ...args], { cwd: REPO_ROOT, env: fullEnv as NodeJS.ProcessEnv, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.once("exit", (code) => {
      clearTimeout(timer);
      res({ code, stdout, stderr });
    });
  });
}
