import type { Socket } from "node:net";
import { P2PError } from "../errors.js";
import type { BadInputLog } from "./bad-input-log.js";

/** Node's limit on the request line plus headers (its default --max-http-header-size). */
const MAX_HEADER_BYTES = 16 * 1024;

/**
 * What Node's HTTP parser refuses before Fastify sees a request (headers over 16 KiB, bytes that
 * are not HTTP, a request not received in time) answered in the contract's envelope, then closed.
 */
export function clientErrorHandler(badInput: BadInputLog, receiveTimeoutMs: number): (err: Error & { code?: string }, socket: Socket) => void {
  return (err, socket) => {
    if (err.code === "ECONNRESET" || socket.destroyed) return;
    const error = socketLevelError(err.code, receiveTimeoutMs);
    badInput.note(socket.remoteAddress ?? "unknown", err.code ?? "malformed_http");
    if (socket.writable && socket.bytesWritten === 0) {
      const body = JSON.stringify({ id: null, error: error.toJSON() });
      socket.write(
        `HTTP/1.1 ${error.status} Bad Request\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
    }
    // Close after the answer is flushed; a client that keeps sending is cut a second later.
    socket.end();
    setTimeout(() => socket.destroy(), 1_000).unref();
  };
}

function socketLevelError(code: string | undefined, receiveTimeoutMs: number): P2PError {
  if (code === "HPE_HEADER_OVERFLOW") return new P2PError("BAD_REQUEST", `request line and headers are larger than ${MAX_HEADER_BYTES / 1024} KiB`);
  if (code === "ERR_HTTP_REQUEST_TIMEOUT") return new P2PError("BAD_REQUEST", `request was not received within ${receiveTimeoutMs / 1000} s`);
  return new P2PError("BAD_REQUEST", "malformed HTTP request");
}
