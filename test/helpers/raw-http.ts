import { connect, type Socket } from "node:net";
import { request as httpRequest } from "node:http";

export interface RawAnswer {
  status: number;
  headers: string;
  body: string;
  /** The body parsed as JSON, or undefined. */
  json: Record<string, unknown> | undefined;
}

/** Parses one HTTP/1.1 answer (Content-Length framed) out of what a socket received. */
export function parseAnswer(text: string): RawAnswer | undefined {
  const end = text.indexOf("\r\n\r\n");
  if (end < 0) return undefined;
  const headers = text.slice(0, end);
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(headers)?.[1] ?? NaN);
  const length = Number(/content-length:\s*(\d+)/i.exec(headers)?.[1] ?? NaN);
  const body = Number.isNaN(length) ? text.slice(end + 4) : text.slice(end + 4, end + 4 + length);
  let json: Record<string, unknown> | undefined;
  try {
    json = JSON.parse(body) as Record<string, unknown>;
  } catch {
    json = undefined;
  }
  return { status, headers, body, json };
}

/** Opens a raw TCP connection to a node (optionally from another loopback address). */
export function openSocket(port: number, localAddress?: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port, ...(localAddress ? { localAddress } : {}) }, () => resolve(socket));
    socket.once("error", reject);
  });
}

/**
 * Sends `bytes` as they are and collects what comes back until the node closes the
 * connection or `timeoutMs` passes; resolves with the first answer in it.
 */
export async function rawExchange(port: number, bytes: string | Buffer, timeoutMs = 10_000): Promise<{ answer: RawAnswer | undefined; closed: boolean }> {
  const socket = await openSocket(port);
  return new Promise((resolve) => {
    let received = "";
    let closed = false;
    const finish = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ answer: parseAnswer(received), closed });
    };
    const timer = setTimeout(finish, timeoutMs);
    socket.on("data", (d: Buffer) => {
      received += d.toString("latin1");
      const answer = parseAnswer(received);
      if (answer && answer.body.length > 0 && answer.json !== undefined) finish();
    });
    socket.on("error", () => undefined);
    socket.on("close", () => {
      closed = true;
      finish();
    });
    socket.write(bytes);
  });
}

/** One JSON request from a chosen local (loopback) address, e.g. 127.0.0.2: another client source. */
export function requestFrom(
  localAddress: string,
  url: string,
  init: { method?: string; token?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Record<string, unknown> }> {
  const body = init.body === undefined ? undefined : JSON.stringify(init.body);
  const headers: Record<string, string> = { ...init.headers, ...(body ? { "content-type": "application/json" } : {}), ...(init.token ? { authorization: `Bearer ${init.token}` } : {}) };
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: init.method ?? (body ? "POST" : "GET"), headers, localAddress }, (res) => {
      let text = "";
      res.on("data", (d: Buffer) => (text += d.toString()));
      res.on("end", () => {
        let parsed: Record<string, unknown> = {};
        try {
          parsed = JSON.parse(text) as Record<string, unknown>;
        } catch {
          parsed = { text };
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: parsed });
      });
    });
    req.on("error", reject);
    req.end(body);
  });
}
