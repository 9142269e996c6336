import { P2PError, toP2PError } from "../../errors.js";
import type { Channel } from "./channel.js";
import { answerBound, FRAME, parseRequest, writeAnswer } from "./messages.js";
import { Cancellation } from "../../rpc/cancellation.js";
import type { LinkCall, LinkHandler, LinkLogger, ServedCall } from "./types.js";
import type { Cuttable, InflightTracker } from "../../util/inflight.js";
import { systemClock, type Clock } from "../../util/clock.js";
import { withTimeout } from "../../util/with-timeout.js";

/**
 * Runs the calls a peer sends on a link and answers each as soon as it settles (any order).
 * One responder serves every connection of a node, whichever side opened it, so the
 * node's drain (`idle`) and counters cover all incoming calls.
 */
export interface ResponderStats {
  /** Calls running in the handler right now. */
  inFlight: number;
  callsServed: number;
  malformed: number;
}

export class Responder {
  private running = 0;
  private idleWaiters: Array<() => void> = [];
  private readonly counters = { callsServed: 0, malformed: 0 };
  /** Calls running per channel, by request id, so a cancel message reaches the right one. */
  private readonly cancellable = new WeakMap<Channel, Map<number, Cancellation>>();

  constructor(
    private readonly handler: LinkHandler,
    private readonly logger: LinkLogger,
    private readonly clock: Clock = systemClock,
  ) {}

  stats(): ResponderStats {
    return { inFlight: this.running, ...this.counters };
  }

  /** Resolves when no call is running, or after `timeoutMs`. */
  idle(timeoutMs: number): Promise<void> {
    if (this.running === 0) return Promise.resolve();
    let waiter!: () => void;
    const idle = new Promise<void>((resolve) => {
      waiter = resolve;
      this.idleWaiters.push(resolve);
    });
    return withTimeout(idle, timeoutMs, this.clock, () => undefined).catch(() => {
      this.idleWaiters = this.idleWaiters.filter((w) => w !== waiter);
    });
  }

  /** Serves one request frame (body in [start, end) of `buf`); `settled` runs once its answer is queued (or dropped). */
  serve(channel: Channel, buf: Buffer, start: number, end: number, from: string, settled: () => void): void {
    const request = parseRequest(buf, start, end);
    if ("reason" in request) {
      this.counters.malformed++;
      if (request.id !== null) answerError(channel, request.id, new P2PError("BAD_REQUEST", request.reason));
      else channel.close(`malformed request: ${request.reason}`);
      settled();
      return;
    }
    const { id, call } = request;
    const cancel = new Cancellation();
    call.cancel = cancel;
    let open = this.cancellable.get(channel);
    if (!open) this.cancellable.set(channel, (open = new Map()));
    open.set(id, cancel);
    const served = new Served(this, channel, id, open, call, from, settled);
    let result: Promise<unknown>;
    this.running++;
    try {
      result = this.handler(call, from, served);
      if (typeof (result as Partial<Promise<unknown>> | undefined)?.then !== "function") result = Promise.resolve(result);
    } catch (err) {
      result = Promise.reject(err);
    }
    result.then(
      (value) => served.answer(value),
      (err: unknown) => served.fail(err),
    );
  }

  /** The peer no longer waits for request `id`: the running call's Cancellation fires. */
  cancel(channel: Channel, id: number): void {
    this.cancellable.get(channel)?.get(id)?.cancel(new P2PError("UNAVAILABLE", "call cancelled by the caller"));
  }

  /** @internal A served call was answered (or cut). */
  done(settled: () => void): void {
    this.counters.callsServed++;
    settled();
    if (--this.running === 0 && this.idleWaiters.length > 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const wake of waiters) wake();
    }
  }

  /** @internal */
  logFailure(from: string, call: LinkCall, err: unknown): void {
    // Unexpected: answered as INTERNAL without the stack, which is logged here instead.
    const stack = err instanceof Error ? err.stack : String(err);
    this.logger.warn({ peer: from, service: call.service, method: call.method, stack }, "link handler failed");
  }
}

/**
 * One call being served: answered once, by its handler's outcome or, when the handler tracks
 * it among the node's calls in flight, by the shutdown's cut, whichever comes first.
 */
class Served implements ServedCall, Cuttable {
  private inflight: InflightTracker | null = null;

  constructor(
    private readonly responder: Responder,
    private readonly channel: Channel,
    private readonly id: number,
    private readonly open: Map<number, Cancellation>,
    private readonly call: LinkCall,
    private readonly from: string,
    private readonly settled: () => void,
  ) {}

  trackIn(inflight: InflightTracker): void {
    this.inflight = inflight;
    inflight.begin(this);
  }

  cut(error: Error): void {
    this.open.delete(this.id);
    answerError(this.channel, this.id, error);
    this.responder.done(this.settled);
  }

  answer(value: unknown): void {
    if (!this.finish()) return;
    answer(this.channel, this.id, value);
    this.responder.done(this.settled);
  }

  fail(err: unknown): void {
    if (!this.finish()) return;
    if (!(err instanceof P2PError)) this.responder.logFailure(this.from, this.call, err);
    answerError(this.channel, this.id, err);
    this.responder.done(this.settled);
  }

  /** False when the cut answered the call already. */
  private finish(): boolean {
    if (this.inflight !== null && !this.inflight.end(this)) return false;
    this.open.delete(this.id);
    return true;
  }
}

function answer(channel: Channel, id: number, result: unknown): void {
  if (!channel.open) return;
  let json: string | undefined;
  try {
    json = JSON.stringify(result) as string | undefined;
  } catch (err) {
    return answerError(channel, id, new P2PError("INTERNAL", `result is not serialisable: ${(err as Error).message}`));
  }
  if (!send(channel, FRAME.result, id, json)) answerError(channel, id, new P2PError("PAYLOAD_TOO_LARGE", "result exceeds the link frame limit"));
}

/** Answers a request this node cannot serve (or that failed). */
export function answerError(channel: Channel, id: number, err: unknown): void {
  if (!channel.open) return;
  const wire = toP2PError(err).toJSON();
  let json: string;
  try {
    json = JSON.stringify(wire);
  } catch {
    json = JSON.stringify({ code: wire.code, message: wire.message });
  }
  // An error whose data does not fit still answers, with its code and message.
  if (!send(channel, FRAME.error, id, json)) send(channel, FRAME.error, id, JSON.stringify({ code: wire.code, message: wire.message.slice(0, 1024) }));
}

/** Queues an answer frame; false if it exceeds the frame limit (nothing queued). */
function send(channel: Channel, kind: typeof FRAME.result | typeof FRAME.error, id: number, json: string | undefined): boolean {
  const at = channel.writeAt;
  return channel.commit(writeAnswer(channel.reserve(answerBound(json)), at, kind, id, json)) >= 0;
}
