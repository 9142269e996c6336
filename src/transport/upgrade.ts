import { connect, type Socket } from "node:net";
import type { IncomingMessage } from "node:http";

/**
 * One TCP port per node: HTTP for clients, and node-to-node streams (gossip sync, the
 * peer link) reached through an HTTP/1.1 `Upgrade: <protocol>` on that same port.
 */
export type UpgradeHandler = (socket: Socket, head: Buffer, req: IncomingMessage) => void;

export class UpgradeRouter {
  private readonly handlers = new Map<string, UpgradeHandler>();

  register(protocol: string, handler: UpgradeHandler): void {
    this.handlers.set(protocol.toLowerCase(), handler);
  }

  /** Wire to `httpServer.on("upgrade", router.handle)`. Unknown protocols get 400 and close. */
  readonly handle = (req: IncomingMessage, socket: Socket, head: Buffer): void => {
    const protocol = String(req.headers.upgrade ?? "").toLowerCase();
    const handler = this.handlers.get(protocol);
    if (!handler) {
      socket.end("HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
      return;
    }
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: ${protocol}\r\nConnection: Upgrade\r\n\r\n`);
    socket.setNoDelay(true);
    handler(socket, head, req);
  };
}

/**
 * Client side: connect to host:port, ask for `protocol`, resolve with the raw socket once
 * the server answers 101 (any bytes after the response head are unshifted back).
 */
export function connectUpgrade(host: string, port: number, protocol: string, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    socket.setNoDelay(true);
    let buffered = Buffer.alloc(0);
    const timer = setTimeout(() => fail(new Error(`upgrade to ${host}:${port} timed out`)), timeoutMs);
    const fail = (err: Error) => {
      clearTimeout(timer);
      socket.removeListener("data", onData);
      socket.destroy();
      reject(err);
    };
    const onData = (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      const end = buffered.indexOf("\r\n\r\n");
      if (end < 0) {
        if (buffered.length > 8192) fail(new Error("upgrade response too large"));
        return;
      }
      const head = buffered.subarray(0, end).toString("latin1");
      const rest = buffered.subarray(end + 4);
      if (!head.startsWith("HTTP/1.1 101")) return fail(new Error(`upgrade refused: ${head.split("\r\n")[0]}`));
      clearTimeout(timer);
      socket.removeListener("data", onData);
      socket.removeListener("error", fail);
      if (rest.length > 0) socket.unshift(rest);
      resolve(socket);
    };
    socket.on("data", onData);
    socket.once("error", fail);
    socket.once("connect", () => {
      socket.write(
        `GET /_p2p/${protocol} HTTP/1.1\r\nHost: ${host}:${port}\r\nConnection: Upgrade\r\nUpgrade: ${protocol}\r\n\r\n`,
      );
    });
  });
}
