import { P2PError } from "../errors.js";
import type { Cancellation } from "../rpc/cancellation.js";

/** The calls of one connection that have not answered yet. */
const OPEN_CALLS = Symbol("p2p.openCalls");

/** A connection as Node's HTTP server hands it out (net.Socket or tls.TLSSocket). */
interface Connection {
  once(event: "close", listener: () => void): unknown;
  [OPEN_CALLS]?: Set<Cancellation>;
}

/**
 * Cancels a call when its client hangs up before it was answered (this.call.signal in the
 * method, a link cancel to another node). One `close` listener per connection, set by its first
 * call, instead of one listener on every response: a keep-alive connection carries many calls,
 * one at a time (or a few, pipelined). Call `answered` once the call answers (or is answered).
 */
export function watchClient(socket: Connection, gone: Cancellation): void {
  let open = socket[OPEN_CALLS];
  if (open === undefined) {
    const calls = new Set<Cancellation>();
    open = calls;
    socket[OPEN_CALLS] = calls;
    socket.once("close", () => {
      const left = [...calls];
      calls.clear();
      for (const call of left) call.cancel(new P2PError("UNAVAILABLE", "the client went away"));
    });
  }
  open.add(gone);
}

/** The call answered (or was answered): its client going away no longer cancels it. */
export function answered(socket: Connection, gone: Cancellation): void {
  socket[OPEN_CALLS]?.delete(gone);
}
