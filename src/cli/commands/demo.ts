import { Command } from "commander";
import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { createSocket } from "node:dgram";
import { mkdirSync, readFileSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { generateSecret } from "../../auth/keys.js";
import { TokenService } from "../../auth/tokens.js";
import { httpsRequest } from "../https-request.js";

/** The package's root: dist/cli/commands → ../../.. (bin/ and the bundled services/ live there). */
const PACKAGE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const MAX_NODES = 20;
const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 15_000;
const TOKEN_TTL_S = 24 * 3600;

/** With --tls: the demo's own cluster CA and each node's certificate files. */
interface DemoPki {
  caFile: string;
  caPem: string;
  files(nodeId: string): { certFile: string; keyFile: string };
}

interface DemoNode {
  nodeId: string;
  role: "coordinator" | "worker";
  port: number;
  logFile: string;
  child: ChildProcess;
  exited: Promise<number | null>;
  /** The end of what the node wrote to stderr (why it could not start). */
  stderr(): string;
}

/** `p2p demo [--nodes 3]`: a local cluster (one coordinator, workers) with shared generated secrets. */
export function demoCommand(): Command {
  return new Command("demo")
    .description("run a local demo cluster (a coordinator and workers) until Ctrl-C; prints the dashboard URL and an admin token")
    .option("--nodes <n>", `how many nodes, 1-${MAX_NODES} (the first is the coordinator)`, "3")
    .option("--port <n>", "first port to try; the nodes take consecutive free ports from there", "8001")
    .option("--log-dir <dir>", "where each node writes its log file", "logs/demo")
    .option("--tls", "run the cluster with certificates: a CA made for the demo (in <log-dir>/pki), HTTPS and mutual TLS between nodes")
    .action(async (options: { nodes: string; port: string; logDir: string; tls?: boolean }) => {
      const count = Number(options.nodes);
      if (!/^\d+$/.test(options.nodes) || count < 1 || count > MAX_NODES) usage(`--nodes: "${options.nodes}" must be a whole number from 1 to ${MAX_NODES}`);
      const firstPort = Number(options.port);
      if (!/^\d+$/.test(options.port) || firstPort < 1024 || firstPort > 65000) usage(`--port: "${options.port}" must be a port number from 1024 to 65000`);
      await runDemo(count, firstPort, resolve(options.logDir), options.tls === true);
    });
}

function usage(message: string): never {
  process.stderr.write(`p2p: ${message}\n`);
  process.exit(1);
}

/** A fresh CA for this run and a certificate per node (loaded only with --tls). */
async function demoPki(dir: string, nodeIds: string[]): Promise<DemoPki> {
  const { initCa, issueNodeCertificate } = await import("../../identity/ca.js");
  rmSync(dir, { recursive: true, force: true });
  const { certFile } = await initCa({ dir, name: "P2P Core demo CA" });
  for (const nodeId of nodeIds) await issueNodeCertificate({ dir, nodeId, hosts: ["127.0.0.1", "localhost"], days: 30 });
  return { caFile: certFile, caPem: readFileSync(certFile, "utf8"), files: (nodeId) => ({ certFile: join(dir, `${nodeId}.crt`), keyFile: join(dir, `${nodeId}.key`) }) };
}

async function runDemo(count: number, firstPort: number, logDir: string, tls: boolean): Promise<void> {
  mkdirSync(logDir, { recursive: true });
  const secrets = { P2P_JWT_SECRET: generateSecret(), P2P_API_KEY: generateSecret(), P2P_CLIENT_KEY: generateSecret(), P2P_CLUSTER_KEY: generateSecret() };
  const ports = await freePorts(firstPort, count);
  const ids = Array.from({ length: count }, (_, i) => (i === 0 ? "demo-coordinator" : `demo-worker-${i}`));
  const pki = tls ? await demoPki(join(logDir, "pki"), ids) : null;
  const scheme = pki ? "https" : "http";
  const nodes: DemoNode[] = [];
  let stopping = false;
  const stopAll = async (code: number) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write("\nstopping the demo cluster…\n");
    await Promise.all(nodes.map((n) => stopNode(n)));
    process.exit(code);
  };
  process.on("SIGINT", () => void stopAll(0));
  process.on("SIGTERM", () => void stopAll(0));

  const coordinator = ports[0]!;
  for (let i = 0; i < count; i++) {
    const role = i === 0 ? "coordinator" : "worker";
    nodes.push(startNode(ids[i]!, role, ports[i]!, coordinator, logDir, secrets, pki));
  }
  try {
    await Promise.all(nodes.map((n) => waitHealthy(n, pki)));
  } catch (err) {
    process.stderr.write(`p2p: demo: ${err instanceof Error ? err.message : String(err)}\n`);
    await stopAll(1);
    return;
  }
  for (const n of nodes) {
    void n.exited.then((code) => {
      if (!stopping) process.stdout.write(`node ${n.nodeId} exited (code ${code}); see ${n.logFile}\n`);
    });
  }
  const token = await new TokenService(secrets.P2P_JWT_SECRET).issue("demo-admin", "admin", TOKEN_TTL_S);
  const base = `${scheme}://127.0.0.1:${coordinator}`;
  const trust = pki ? ` P2P_CA=${pki.caFile}` : "";
  process.stdout.write(
    [
      "",
      `P2P Core demo cluster: ${count} node(s)`,
      ...nodes.map((n) => `  ${n.role.padEnd(11)} ${n.nodeId.padEnd(18)} ${scheme}://127.0.0.1:${n.port}  (pid ${n.child.pid}, log ${n.logFile})`),
      ...(pki ? ["", `TLS: every node has a certificate of the demo CA ${pki.caFile} (trust it in your browser to open the dashboard)`] : []),
      "",
      `Dashboard:   ${base}/ui/`,
      `Admin token (valid 24 h, sign in with it on the dashboard):`,
      token,
      `API key (admin): ${secrets.P2P_API_KEY}`,
      "",
      `Try:  P2P_URL=${base}${trust} P2P_TOKEN=<the token> p2p nodes`,
      `      curl -s${pki ? ` --cacert ${pki.caFile}` : ""} -X POST ${base}/rpc/example_service/hello -H "Authorization: Bearer <the token>" -d '{"params":{"name":"you"}}'`,
      "Ctrl-C stops every node.",
      "",
    ].join("\n") + "\n",
  );
}

function startNode(nodeId: string, role: DemoNode["role"], port: number, coordinatorPort: number, logDir: string, secrets: Record<string, string>, pki: DemoPki | null): DemoNode {
  const logFile = join(logDir, `${nodeId}.log`);
  const args = [join(PACKAGE_ROOT, "bin/p2p.js"), role, "--node-id", nodeId, "--port", String(port), "--log-file", logFile, "--services-dir", join(PACKAGE_ROOT, "services")];
  if (pki) {
    const { certFile, keyFile } = pki.files(nodeId);
    args.push("--tls-cert", certFile, "--tls-key", keyFile, "--tls-ca", pki.caFile);
  }
  if (role === "worker") args.push("--coord", `127.0.0.1:${coordinatorPort}`);
  // Own process group: a terminal's Ctrl-C reaches the demo only, which then stops each node once.
  const child = spawn(process.execPath, args, { env: { ...process.env, ...secrets }, stdio: ["ignore", "ignore", "pipe"], detached: true });
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const exited = new Promise<number | null>((res) => child.once("exit", (code) => res(code)));
  return { nodeId, role, port, logFile, child, exited, stderr: () => stderr };
}

async function healthy(node: DemoNode, pki: DemoPki | null): Promise<boolean> {
  if (!pki) return (await fetch(`http://127.0.0.1:${node.port}/health`, { signal: AbortSignal.timeout(2000) })).ok;
  return (await httpsRequest(`https://127.0.0.1:${node.port}/health`, { method: "GET", headers: {}, ca: pki.caPem, timeoutMs: 2000 })).status === 200;
}

async function waitHealthy(node: DemoNode, pki: DemoPki | null): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  let exited = false;
  void node.exited.then(() => (exited = true));
  while (Date.now() < deadline) {
    if (exited) throw new Error(`node ${node.nodeId} exited while starting: ${lastLines(node)}`);
    try {
      if (await healthy(node, pki)) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`node ${node.nodeId} did not become healthy within ${START_TIMEOUT_MS / 1000} s: ${lastLines(node)}`);
}

function lastLines(node: DemoNode): string {
  const fromStderr = node.stderr().trim();
  if (fromStderr) return fromStderr.split("\n").slice(-3).join(" | ");
  try {
    return readFileSync(node.logFile, "utf8").trim().split("\n").slice(-3).join(" | ");
  } catch {
    return "no log";
  }
}

async function stopNode(node: DemoNode): Promise<void> {
  if (node.child.exitCode !== null || node.child.signalCode !== null) return;
  node.child.kill("SIGTERM");
  const timer = setTimeout(() => node.child.kill("SIGKILL"), STOP_TIMEOUT_MS);
  await node.exited;
  clearTimeout(timer);
}

/** `count` ports free on TCP and UDP, consecutive from `first` where possible. */
async function freePorts(first: number, count: number): Promise<number[]> {
  const out: number[] = [];
  for (let port = first; out.length < count && port < first + 1000 && port <= 65535; port++) {
    if (await isFree(port)) out.push(port);
  }
  if (out.length < count) throw new Error(`no ${count} free ports from ${first}`);
  return out;
}

function isFree(port: number): Promise<boolean> {
  return new Promise((res) => {
    const srv = createServer();
    srv.once("error", () => res(false));
    srv.listen(port, "127.0.0.1", () => {
      srv.close(() => {
        const sock = createSocket("udp4");
        sock.once("error", () => res(false));
        sock.bind(port, "127.0.0.1", () => sock.close(() => res(true)));
      });
    });
  });
}
