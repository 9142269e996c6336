import { createServer, type Server } from "node:http";
import { connect, createServer as createTcpServer, type Socket } from "node:net";
import { Keyring } from "../../../src/security/keyring.js";
import { UpgradeRouter } from "../../../src/transport/upgrade.js";
import { PeerLinkServer, PeerLinkPool, type LinkCall, type LinkHandler, type LinkTarget } from "../../../src/transport/peer-link/index.js";

/** A node's HTTP port with only the peer link on it; stop() closes everything it opened. */
export interface TestLinkNode {
  nodeId: string;
  port: number;
  http: Server;
  link: PeerLinkServer;
  /** TCP connections accepted by the HTTP server so far. */
  connections: () => number;
  target: LinkTarget;
  /** Destroys every TCP connection the HTTP server accepted (a network break). */
  breakConnections(): void;
  stop(): Promise<void>;
}

const cleanups: Array<() => Promise<void>> = [];

export async function cleanupAll(): Promise<void> {
  await Promise.all(cleanups.splice(0).map((fn) => fn()));
}

export async function startLinkNode(opts: {
  nodeId: string;
  secret?: string;
  handler: LinkHandler;
  port?: number;
  /** Shares links both ways with this pool. */
  pool?: PeerLinkPool;
  /** Stands in for membership: where a node id is known to be. */
  knownAddress?: (nodeId: string) => string | undefined;
}): Promise<TestLinkNode> {
  const router = new UpgradeRouter();
  const link = new PeerLinkServer({
    nodeId: opts.nodeId,
    keyring: Keyring.fromSecret(opts.secret),
    handler: opts.handler,
    ...(opts.pool ? { pool: opts.pool } : {}),
    ...(opts.knownAddress ? { knownAddress: opts.knownAddress } : {}),
  });
  link.attach(router);
  const http = createServer((_req, res) => res.end("ok"));
  http.on("upgrade", router.handle);
  const sockets = new Set<Socket>();
  let accepted = 0;
  http.on("connection", (s: Socket) => {
    accepted++;
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    http.once("error", reject);
    http.listen(opts.port ?? 0, "127.0.0.1", resolve);
  });
  const port = (http.address() as { port: number }).port;
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await link.close();
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => http.close(() => resolve()));
  };
  cleanups.push(stop);
  return {
    nodeId: opts.nodeId,
    port,
    http,
    link,
    connections: () => accepted,
    target: { nodeId: opts.nodeId, host: "127.0.0.1", port },
    breakConnections: () => {
      for (const s of sockets) s.destroy();
    },
    stop,
  };
}

export function newPool(nodeId: string, secret?: string, extra: { connectTimeoutMs?: number; pingIntervalMs?: number; maxFrameBytes?: number } = {}): PeerLinkPool {
  const pool = new PeerLinkPool({ nodeId, keyring: Keyring.fromSecret(secret), ...extra });
  cleanups.push(() => pool.close());
  return pool;
}

/** A node with both halves of the link, sharing connections: calls go out and come in. */
export interface TestPeer extends TestLinkNode {
  pool: PeerLinkPool;
}

export async function startPeer(opts: { nodeId: string; secret?: string; handler: LinkHandler; port?: number; knownAddress?: (nodeId: string) => string | undefined }): Promise<TestPeer> {
  const pool = newPool(opts.nodeId, opts.secret);
  const node = await startLinkNode({ ...opts, pool });
  return {
    ...node,
    pool,
    stop: async () => {
      await pool.close();
      await node.stop();
    },
  };
}

export function call(method: string, params: Record<string, unknown> = {}, timeoutMs = 2000): LinkCall {
  return { service: "echo", method, params, caller: { sub: "tester", role: "client" }, timeoutMs };
}

/** A TCP proxy in front of `port` that records every byte the client sent (after `rewrite`, if given). */
export async function recordingProxy(port: number, rewrite?: (chunk: Buffer) => Buffer): Promise<{ port: number; clientBytes: () => Buffer }> {
  const chunks: Buffer[] = [];
  const sockets = new Set<Socket>();
  const proxy = createTcpServer((inbound) => {
    const outbound = connect({ host: "127.0.0.1", port });
    for (const s of [inbound, outbound]) {
      sockets.add(s);
      s.on("error", () => {});
      s.on("close", () => {
        inbound.destroy();
        outbound.destroy();
        sockets.delete(s);
      });
    }
    inbound.on("data", (chunk: Buffer) => {
      const c = rewrite ? rewrite(chunk) : chunk;
      chunks.push(c);
      outbound.write(c);
    });
    outbound.pipe(inbound);
  });
  await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
  cleanups.push(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => proxy.close(() => resolve()));
  });
  return { port: (proxy.address() as { port: number }).port, clientBytes: () => Buffer.concat(chunks) };
}
