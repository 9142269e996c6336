/**
 * A private redis-server per test file: free port on 127.0.0.1, no persistence, stopped by
 * PID. kill9() simulates a crash; restart() brings it back on the same port (empty).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./launcher.js";

export interface RedisServerHandle {
  url: string;
  port: number;
  readonly pid: number;
  /** SIGTERM and wait for exit. */
  stop(): Promise<void>;
  /** SIGKILL and wait for exit: a crash. */
  kill9(): Promise<void>;
  /** Start again on the same port and wait until it answers PING. */
  restart(): Promise<void>;
}

export { freePort };

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(200, () => done(false));
    socket.once("error", () => done(false));
    socket.once("connect", () => socket.write("PING\r\n"));
    socket.once("data", (data) => done(data.toString().startsWith("+PONG")));
  });
}

async function waitForPing(port: number, child: ChildProcess, timeoutMs = 5_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}`);
    if (await ping(port)) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`redis-server on ${port} did not answer PING within ${timeoutMs} ms`);
}

function waitExit(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once("exit", () => resolve()));
}

export async function startRedis(): Promise<RedisServerHandle> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "p2p-redis-"));
  const launch = (): ChildProcess =>
    spawn(
      "redis-server",
      ["--port", String(port), "--save", "", "--appendonly", "no", "--bind", "127.0.0.1", "--dir", dir, "--loglevel", "warning"],
      { stdio: "ignore" },
    );
  let child = launch();
  await waitForPing(port, child);
  const handle: RedisServerHandle = {
    url: `redis://127.0.0.1:${port}`,
    port,
    get pid() {
      return child.pid ?? -1;
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      await waitExit(child);
      rmSync(dir, { recursive: true, force: true });
    },
    async kill9() {
      child.kill("SIGKILL");
      await waitExit(child);
    },
    async restart() {
      await handle.kill9();
      child = launch();
      await waitForPing(port, child);
    },
  };
  return handle;
}

async function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

export interface RedisClusterHandle {
  /** `redis+cluster://127.0.0.1:p1,127.0.0.1:p2,...` */
  url: string;
  ports: number[];
  stop(): Promise<void>;
}

/** A private Redis Cluster of `masters` nodes (no replicas); each node's bus port is port+10000. */
export async function startRedisCluster(masters = 3): Promise<RedisClusterHandle> {
  const ports: number[] = [];
  while (ports.length < masters) {
    const port = 20_000 + Math.floor(Math.random() * 30_000);
    if (!ports.includes(port) && (await portFree(port)) && (await portFree(port + 10_000))) ports.push(port);
  }
  const dir = mkdtempSync(join(tmpdir(), "p2p-redis-cluster-"));
  const children = ports.map((port) =>
    spawn(
      "redis-server",
      [
        "--port", String(port), "--save", "", "--appendonly", "no", "--bind", "127.0.0.1", "--dir", dir,
        "--cluster-enabled", "yes", "--cluster-config-file", `nodes-${port}.conf`, "--loglevel", "warning",
      ],
      { stdio: "ignore" },
    ),
  );
  const stop = async (): Promise<void> => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    await Promise.all(children.map(waitExit));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await Promise.all(ports.map((port, i) => waitForPing(port, children[i]!)));
    const create = spawn(
      "redis-cli",
      ["--cluster", "create", ...ports.map((p) => `127.0.0.1:${p}`), "--cluster-replicas", "0", "--cluster-yes"],
      { stdio: "ignore" },
    );
    const code = await new Promise<number | null>((resolve) => create.once("exit", resolve));
    if (code !== 0) throw new Error(`redis-cli --cluster create exited with ${code}`);
    const until = Date.now() + 10_000;
    while (!(await clusterOk(ports))) {
      if (Date.now() > until) throw new Error("Redis cluster did not reach cluster_state:ok");
      await new Promise((r) => setTimeout(r, 50));
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { url: `redis+cluster://${ports.map((p) => `127.0.0.1:${p}`).join(",")}`, ports, stop };
}

async function clusterOk(ports: number[]): Promise<boolean> {
  const states = await Promise.all(
    ports.map(
      (port) =>
        new Promise<boolean>((resolve) => {
          const socket = net.connect({ host: "127.0.0.1", port });
          let text = "";
          const done = (ok: boolean): void => {
            socket.destroy();
            resolve(ok);
          };
          socket.setTimeout(500, () => done(false));
          socket.once("error", () => done(false));
          socket.once("connect", () => socket.write("CLUSTER INFO\r\n"));
          socket.on("data", (data) => {
            text += data.toString();
            if (text.includes("cluster_state:")) done(text.includes("cluster_state:ok"));
          });
        }),
    ),
  );
  return states.every(Boolean);
}
