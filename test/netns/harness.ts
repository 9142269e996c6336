/**
 * Test aid: a cluster of real nodes (the real CLI, `node bin/p2p.js …`) each in its own Linux
 * network namespace, on veth pairs plugged into one bridge, with faults applied from outside:
 * packet loss and partitions with nftables inside a namespace, bandwidth caps with `tc tbf`
 * (this kernel has no netem), stalls with SIGSTOP/SIGCONT and crashes with SIGKILL.
 *
 * Every name (namespaces, bridge, veths) starts with `pf<pid>`, unique per run, and the subnet
 * 10.A.B.0/24 is derived from the pid too. Teardown (kill every process, delete namespaces and
 * bridge) runs from afterAll, on process exit and on SIGINT/SIGTERM; leftovers of runs whose
 * process is gone (killed -9) are deleted at the next start. Traffic flows only between the
 * namespaces and the host's bridge address (the test process observing).
 */
import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { TokenService } from "../../src/auth/tokens.js";

export { netnsUnavailableReason } from "./available.js";

export const REPO_ROOT = resolve(import.meta.dirname, "../..");
const BIN = join(REPO_ROOT, "bin/p2p.js");
const EMPTY_SERVICES = join(REPO_ROOT, "test/fixtures/empty-services");
const SERVICES = join(REPO_ROOT, "services");
export const PORT = 7000;

const SECRETS = {
  P2P_JWT_SECRET: "netns-jwt-secret-0123456789abcdef",
  P2P_API_KEY: "netns-admin-key",
  P2P_CLIENT_KEY: "netns-client-key",
  P2P_CLUSTER_KEY: "netns-cluster-key",
};

const PREFIX = "pf";

function sh(cmd: string, args: string[], input?: string): string {
  try {
    return execFileSync(cmd, args, { encoding: "utf8", stdio: ["pipe", "pipe", "pipe"], input });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(" ")}: ${e.stderr?.trim() || e.message}`);
  }
}

function shQuiet(cmd: string, args: string[]): void {
  try {
    execFileSync(cmd, args, { stdio: "ignore" });
  } catch {
    // already gone
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Deletes namespaces and bridges of earlier runs whose process no longer exists. */
function removeLeftovers(): void {
  const pattern = new RegExp(`^${PREFIX}(\\d+)[nb]\\d*$`);
  const stale = (name: string): boolean => {
    const m = pattern.exec(name);
    return m !== null && Number(m[1]) !== process.pid && !alive(Number(m[1]));
  };
  for (const line of sh("ip", ["netns", "list"]).split("\n")) {
    const name = line.split(" ")[0] ?? "";
    if (stale(name)) shQuiet("ip", ["netns", "del", name]);
  }
  for (const line of sh("ip", ["-o", "link", "show", "type", "bridge"]).split("\n")) {
    const name = line.split(":")[1]?.trim().split("@")[0] ?? "";
    if (stale(name)) shQuiet("ip", ["link", "del", name]);
  }
}

export interface NodeSpec {
  id: string;
  role: "coordinator" | "worker";
  /** Hosts example_service (workers by default; the coordinator hosts nothing). */
  services?: boolean;
}

export class NetnsNode {
  child: ChildProcess | null = null;
  private out = "";
  exited: Promise<number | null> = Promise.resolve(null);
  stopped = false;

  constructor(
    readonly spec: NodeSpec,
    readonly ns: string,
    readonly ip: string,
    private readonly args: string[],
    readonly logFile: string,
  ) {}

  get id(): string {
    return this.spec.id;
  }

  get url(): string {
    return `http://${this.ip}:${PORT}`;
  }

  get pid(): number {
    return this.child?.pid ?? -1;
  }

  get running(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  output(): string {
    return this.out;
  }

  /** Starts the node (again, under the same id and data dir after a kill). */
  start(): void {
    // `ip netns exec` execs the command (no fork), so the child's pid is the node's.
    const child = spawn("ip", ["netns", "exec", this.ns, process.execPath, ...this.args], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...SECRETS, P2P_LOG_LEVEL: "info" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.out = "";
    child.stdout!.on("data", (d: Buffer) => (this.out = (this.out + d.toString()).slice(-20_000)));
    child.stderr!.on("data", (d: Buffer) => (this.out = (this.out + d.toString()).slice(-20_000)));
    this.exited = new Promise((res) => child.once("exit", (code) => res(code)));
    this.child = child;
    this.stopped = false;
  }

  signal(sig: NodeJS.Signals): void {
    if (this.running) this.child!.kill(sig);
    if (sig === "SIGSTOP") this.stopped = true;
    if (sig === "SIGCONT") this.stopped = false;
  }

  /** kill -9, and wait until the process is gone. */
  async kill(): Promise<void> {
    this.signal("SIGKILL");
    await this.exited;
  }

  /** The node's JSON log (state changes as it saw them). */
  log(): string {
    return existsSync(this.logFile) ? readFileSync(this.logFile, "utf8") : "";
  }
}

export interface CallOutcome {
  at: number;
  status: number;
  ms: number;
  node: string | null;
  code?: string;
}

/**
 * One cluster in namespaces. `nodes[0]` is the caller (a coordinator without services) unless
 * specs say otherwise; every node joins `nodes[0]`.
 */
/** The suite's and the bench's cluster: a coordinator and four workers. */
export const FIVE_NODES: readonly NodeSpec[] = [
  { id: "c1", role: "coordinator" },
  { id: "w1", role: "worker" },
  { id: "w2", role: "worker" },
  { id: "w3", role: "worker" },
  { id: "w4", role: "worker" },
];

export class NetnsCluster {
  readonly tag = `${PREFIX}${process.pid}`;
  readonly bridge = `${this.tag}b`;
  readonly subnet: string;
  readonly hostIp: string;
  readonly nodes: NetnsNode[] = [];
  private readonly dir = mkdtempSync(join(tmpdir(), "p2p-netns-"));
  private readonly tokens = new TokenService(SECRETS.P2P_JWT_SECRET);
  private torn = false;
  private readonly onExit = (): void => this.teardownSync();
  private readonly onSignal = (sig: NodeJS.Signals): void => {
    this.teardownSync();
    process.kill(process.pid, sig);
  };

  constructor(private readonly specs: readonly NodeSpec[]) {
    const pid = process.pid;
    this.subnet = `10.${100 + ((pid >> 8) % 150)}.${pid % 256}`;
    this.hostIp = `${this.subnet}.254`;
  }

  node(id: string): NetnsNode {
    const n = this.nodes.find((x) => x.id === id);
    if (!n) throw new Error(`no node ${id}`);
    return n;
  }

  /** Creates bridge, namespaces and veths, starts every node and waits until all are healthy. */
  async up(): Promise<void> {
    removeLeftovers();
    process.once("exit", this.onExit);
    process.once("SIGINT", this.onSignal);
    process.once("SIGTERM", this.onSignal);
    sh("ip", ["link", "add", this.bridge, "type", "bridge"]);
    sh("ip", ["addr", "add", `${this.hostIp}/24`, "dev", this.bridge]);
    sh("ip", ["link", "set", this.bridge, "up"]);
    const seed = `${this.subnet}.1:${PORT}`;
    this.specs.forEach((spec, i) => {
      const ns = `${this.tag}n${i + 1}`;
      const ip = `${this.subnet}.${i + 1}`;
      const host = `${this.tag}v${i + 1}`;
      const peer = `${this.tag}p${i + 1}`;
      sh("ip", ["netns", "add", ns]);
      sh("ip", ["link", "add", host, "type", "veth", "peer", "name", peer]);
      sh("ip", ["link", "set", peer, "netns", ns]);
      sh("ip", ["link", "set", host, "master", this.bridge, "up"]);
      sh("ip", ["-n", ns, "link", "set", peer, "name", "eth0"]);
      sh("ip", ["-n", ns, "addr", "add", `${ip}/24`, "dev", "eth0"]);
      sh("ip", ["-n", ns, "link", "set", "eth0", "up"]);
      sh("ip", ["-n", ns, "link", "set", "lo", "up"]);
      const data = join(this.dir, spec.id);
      mkdirSync(data, { recursive: true });
      const hosts = spec.services ?? spec.role === "worker";
      const args = [BIN, spec.role, "--node-id", spec.id, "--address", ip, "--port", String(PORT), "--data-dir", join(data, "data"), "--log-file", join(data, "p2p.log"), "--services-dir", hosts ? SERVICES : EMPTY_SERVICES];
      if (i > 0) args.push("--coord", seed);
      this.nodes.push(new NetnsNode(spec, ns, ip, args, join(data, "p2p.log")));
    });
    for (const n of this.nodes) n.start();
    await Promise.all(this.nodes.map((n) => this.waitHealthy(n)));
  }

  async waitHealthy(n: NetnsNode, timeoutMs = 60_000): Promise<void> {
    await waitFor(async () => (await fetch(`${n.url}/health`, { signal: AbortSignal.timeout(2_000) })).ok, timeoutMs, () => `${n.id} healthy:\n${n.output()}`);
  }

  token(role: "client" | "admin" = "client"): Promise<string> {
    return this.tokens.issue("netns-test", role, 3600);
  }

  /** node_id → state as `observer` sees the cluster (null if it does not answer within 2 s). */
  async statesSeenBy(observer: NetnsNode): Promise<Record<string, string> | null> {
    try {
      const res = await fetch(`${observer.url}/cluster/nodes`, { headers: { authorization: `Bearer ${await this.token()}` }, signal: AbortSignal.timeout(2_000) });
      if (!res.ok) return null;
      const body = (await res.json()) as { nodes: { node_id: string; state: string }[] };
      return Object.fromEntries(body.nodes.map((x) => [x.node_id, x.state]));
    } catch {
      return null;
    }
  }

  /** Every observer sees `target` in `state`. */
  async allSee(observers: NetnsNode[], target: string, state: string): Promise<boolean> {
    const views = await Promise.all(observers.map((o) => this.statesSeenBy(o)));
    return views.every((v) => v !== null && v[target] === state);
  }

  /** Every node sees every node alive. */
  async oneCluster(nodes: NetnsNode[] = this.nodes): Promise<boolean> {
    const ids = nodes.map((n) => n.id);
    const views = await Promise.all(nodes.map((o) => this.statesSeenBy(o)));
    return views.every((v) => v !== null && ids.every((id) => v[id] === "alive"));
  }

  /** ms until check() holds (polled every 100 ms), or throws after timeoutMs. */
  async timeUntil(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<number> {
    const started = Date.now();
    await waitFor(check, timeoutMs, () => what);
    return Date.now() - started;
  }

  /** One RPC through `via` (default: the caller, nodes[0]). */
  async call(method: string, params: Record<string, unknown> = {}, opts: { via?: NetnsNode; timeoutMs?: number; node?: string } = {}): Promise<CallOutcome> {
    const via = opts.via ?? this.nodes[0]!;
    const started = Date.now();
    const headers: Record<string, string> = { authorization: `Bearer ${await this.token()}`, "content-type": "application/json" };
    if (opts.timeoutMs !== undefined) headers["x-p2p-timeout-ms"] = String(opts.timeoutMs);
    const url = `${via.url}/rpc/example_service/${method}${opts.node ? `?node=${opts.node}` : ""}`;
    try {
      const res = await fetch(url, { method: "POST", headers, body: JSON.stringify({ params }), signal: AbortSignal.timeout((opts.timeoutMs ?? 30_000) + 5_000) });
      const text = await res.text();
      let code: string | undefined;
      if (!res.ok) {
        try {
          const body = JSON.parse(text) as { error?: { code?: string; message?: string; data?: unknown } };
          code = `${body.error?.code ?? "?"}: ${body.error?.message ?? text} ${JSON.stringify(body.error?.data ?? null)}`.slice(0, 600);
        } catch {
          code = text.slice(0, 300);
        }
      }
      return { at: started, status: res.status, ms: Date.now() - started, node: res.headers.get("x-p2p-node"), ...(code ? { code } : {}) };
    } catch (err) {
      return { at: started, status: 0, ms: Date.now() - started, node: null, code: err instanceof Error ? err.message : String(err) };
    }
  }

  /**
   * A steady stream of idempotent calls (`concurrency` loops, each sending the next call as the
   * previous answers, at most one per `gapMs`) until stop() is called; bounded by `maxCalls`.
   */
  stream(opts: { method?: string; params?: Record<string, unknown>; timeoutMs?: number; concurrency?: number; gapMs?: number; maxCalls?: number } = {}): { stop: () => Promise<CallOutcome[]>; outcomes: CallOutcome[] } {
    const outcomes: CallOutcome[] = [];
    let stopping = false;
    const max = opts.maxCalls ?? 20_000;
    const loop = async (): Promise<void> => {
      while (!stopping && outcomes.length < max) {
        const started = Date.now();
        outcomes.push(await this.call(opts.method ?? "hello", opts.params ?? {}, { timeoutMs: opts.timeoutMs ?? 5_000 }));
        const wait = (opts.gapMs ?? 50) - (Date.now() - started);
        if (wait > 0) await sleep(wait);
      }
    };
    const loops = Array.from({ length: opts.concurrency ?? 2 }, () => loop());
    return {
      outcomes,
      stop: async () => {
        stopping = true;
        await Promise.all(loops);
        return outcomes;
      },
    };
  }

  // ---- faults ------------------------------------------------------------------------------

  private nft(n: NetnsNode, script: string): void {
    sh("ip", ["netns", "exec", n.ns, "nft", "-f", "-"], script);
  }

  /**
   * Drops `percent` % of the packets every node receives from the other nodes (each packet
   * crossing the bridge is dropped once with that chance). Traffic with the host (the test
   * observing) is not touched.
   */
  loss(percent: number, nodes: NetnsNode[] = this.nodes): void {
    for (const n of nodes) {
      this.nft(n, `table inet pfloss {\n  chain in {\n    type filter hook input priority 0; policy accept;\n    ip saddr ${this.subnet}.0/24 ip saddr != ${this.hostIp} numgen random mod 100 < ${percent} drop\n  }\n}\n`);
    }
  }

  clearLoss(nodes: NetnsNode[] = this.nodes): void {
    for (const n of nodes) shQuiet("ip", ["netns", "exec", n.ns, "nft", "delete", "table", "inet", "pfloss"]);
  }

  /** Each group hears only itself (and the host): traffic to and from the other groups is dropped. */
  partition(...groups: NetnsNode[][]): void {
    for (const group of groups) {
      const others = this.nodes.filter((n) => !group.includes(n)).map((n) => n.ip);
      if (others.length === 0) continue;
      const set = `{ ${others.join(", ")} }`;
      for (const n of group) {
        this.nft(n, `table inet pfpart {\n  chain in {\n    type filter hook input priority 0; policy accept;\n    ip saddr ${set} drop\n  }\n  chain out {\n    type filter hook output priority 0; policy accept;\n    ip daddr ${set} drop\n  }\n}\n`);
      }
    }
  }

  heal(): void {
    for (const n of this.nodes) shQuiet("ip", ["netns", "exec", n.ns, "nft", "delete", "table", "inet", "pfpart"]);
  }

  /** Caps what `n` sends (its egress) with a token bucket filter. */
  bandwidth(n: NetnsNode, rate = "512kbit", burst = "32kbit", latency = "400ms"): void {
    sh("ip", ["netns", "exec", n.ns, "tc", "qdisc", "add", "dev", "eth0", "root", "tbf", "rate", rate, "burst", burst, "latency", latency]);
  }

  clearBandwidth(n: NetnsNode): void {
    shQuiet("ip", ["netns", "exec", n.ns, "tc", "qdisc", "del", "dev", "eth0", "root"]);
  }

  /** Removes every fault (loss, partitions, caps) and resumes stopped nodes. */
  clearFaults(): void {
    this.heal();
    this.clearLoss();
    for (const n of this.nodes) {
      this.clearBandwidth(n);
      if (n.stopped) n.signal("SIGCONT");
    }
  }

  /** The state changes `observer` logged about `target` (from its JSON log). */
  stateChanges(observer: NetnsNode, target: string): { state: string; time: number }[] {
    const out: { state: string; time: number }[] = [];
    for (const line of observer.log().split("\n")) {
      if (!line.includes('"member state changed"')) continue;
      try {
        const rec = JSON.parse(line) as { peer?: string; state?: string; time?: string | number };
        const time = typeof rec.time === "number" ? rec.time : Date.parse(rec.time ?? "");
        if (rec.peer === target && rec.state && Number.isFinite(time)) out.push({ state: rec.state, time });
      } catch {
        // a partial last line
      }
    }
    return out;
  }

  async down(): Promise<void> {
    for (const n of this.nodes) {
      if (n.stopped) n.signal("SIGCONT");
      n.signal("SIGKILL");
    }
    await Promise.race([Promise.all(this.nodes.map((n) => n.exited)), sleep(5_000)]);
    this.teardownSync();
  }

  /** Synchronous, idempotent: safe from an exit handler. */
  teardownSync(): void {
    if (this.torn) return;
    this.torn = true;
    for (const n of this.nodes) {
      if (n.pid > 0 && n.running) {
        try {
          process.kill(n.pid, "SIGKILL");
        } catch {
          // gone
        }
      }
    }
    for (let i = 1; i <= this.specs.length; i++) shQuiet("ip", ["netns", "del", `${this.tag}n${i}`]);
    shQuiet("ip", ["link", "del", this.bridge]);
    rmSync(this.dir, { recursive: true, force: true });
    process.off("exit", this.onExit);
    process.off("SIGINT", this.onSignal);
    process.off("SIGTERM", this.onSignal);
  }

  /** Namespaces of this run still present (the suite checks none are after teardown). */
  leftovers(): string[] {
    return sh("ip", ["netns", "list"])
      .split("\n")
      .map((l) => l.split(" ")[0] ?? "")
      .filter((name) => name.startsWith(`${this.tag}n`));
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export async function waitFor(check: () => Promise<boolean> | boolean, timeoutMs: number, describe: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // not yet
    }
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms: ${describe()}`);
    await sleep(100);
  }
}

/** Outcome summary for messages and figures. */
export function summarize(outcomes: CallOutcome[]): { total: number; ok: number; failed: CallOutcome[]; okRatio: number } {
  const failed = outcomes.filter((o) => o.status !== 200);
  return { total: outcomes.length, ok: outcomes.length - failed.length, failed, okRatio: outcomes.length === 0 ? 0 : (outcomes.length - failed.length) / outcomes.length };
}
