/**
 * Bulkhead per target node: at most `maxInflight` calls at once, then a bounded FIFO
 * queue. A full queue refuses at once (UNAVAILABLE, reason "bulkhead_full": the call
 * provably did not run, so the pipeline may try another node); a queued call whose
 * deadline passes leaves the queue with TIMEOUT. One slow node thus cannot take every
 * socket and every pending promise of this process with it.
 */
import { P2PError } from "../errors.js";
import type { Clock, Timer } from "../util/clock.js";
import type { Deadline } from "./deadline.js";

export interface BulkheadOptions {
  /** Calls running at once to one node. */
  maxInflight?: number;
  /** Calls waiting for a slot; beyond this, refuse. */
  maxQueue?: number;
}

export const DEFAULT_BULKHEAD_OPTIONS: Required<BulkheadOptions> = {
  maxInflight: 256,
  maxQueue: 1024,
};

interface Waiter {
  start: () => void;
  timer: Timer | undefined;
}

export class Bulkhead {
  private active = 0;
  private readonly queue: Waiter[] = [];
  private readonly maxInflight: number;
  private readonly maxQueue: number;

  constructor(
    private readonly clock: Clock,
    options: BulkheadOptions = {},
    /** Named in errors. */
    private readonly name = "target",
  ) {
    this.maxInflight = Math.max(1, options.maxInflight ?? DEFAULT_BULKHEAD_OPTIONS.maxInflight);
    this.maxQueue = Math.max(0, options.maxQueue ?? DEFAULT_BULKHEAD_OPTIONS.maxQueue);
  }

  get inflight(): number {
    return this.active;
  }

  get queued(): number {
    return this.queue.length;
  }

  /** Run `fn` in a slot: now, after waiting in the queue, or not at all (see top). */
  run<T>(fn: () => Promise<T>, deadline: Deadline): Promise<T> {
    const wait = this.enter(deadline);
    if (wait === undefined) return this.execute(fn);
    return wait.then(() => this.execute(fn));
  }

  /**
   * Take a slot: undefined when taken at once (the hot path allocates nothing), else a
   * promise that resolves once a slot is handed over, or rejects (bulkhead_full, TIMEOUT).
   * Whoever got a slot must call leave() exactly once.
   */
  enter(deadline: Deadline): Promise<void> | undefined {
    if (this.active < this.maxInflight) {
      this.active++;
      return undefined;
    }
    if (this.queue.length >= this.maxQueue) {
      return Promise.reject(
        new P2PError("UNAVAILABLE", `too many calls to ${this.name}`, {
          reason: "bulkhead_full",
          node: this.name,
          inflight: this.active,
          queued: this.queue.length,
        }),
      );
    }
    if (deadline.expired()) return Promise.reject(deadline.timeoutError({ queued: true }));
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { start: resolve, timer: undefined };
      waiter.timer = this.clock.setTimeout(() => {
        const i = this.queue.indexOf(waiter);
        if (i >= 0) this.queue.splice(i, 1);
        reject(deadline.timeoutError({ queued: true }));
      }, deadline.remaining());
      this.queue.push(waiter);
    });
  }

  /** Give a slot back; the oldest waiter, if any, takes it over. */
  leave(): void {
    const next = this.queue.shift();
    if (next !== undefined) {
      next.timer?.cancel();
      next.start(); // the slot passes on: active stays the same
    } else {
      this.active--;
    }
  }

  /** fn runs in a slot already taken. */
  private execute<T>(fn: () => Promise<T>): Promise<T> {
    let promise: Promise<T>;
    try {
      promise = fn();
    } catch (err) {
      this.leave();
      return Promise.reject(err);
    }
    promise.then(this.release, this.release);
    return promise;
  }

  private readonly release = (): void => this.leave();
}

/** Bulkheads keyed by node id, created on first use with the same options. */
export class BulkheadSet {
  private readonly heads = new Map<string, Bulkhead>();

  constructor(
    private readonly clock: Clock,
    private readonly options: BulkheadOptions = {},
  ) {}

  get(nodeId: string): Bulkhead {
    let head = this.heads.get(nodeId);
    if (head === undefined) {
      head = new Bulkhead(this.clock, this.options, nodeId);
      this.heads.set(nodeId, head);
    }
    return head;
  }

  run<T>(nodeId: string, fn: () => Promise<T>, deadline: Deadline): Promise<T> {
    return this.get(nodeId).run(fn, deadline);
  }

  /** Drop an idle node's bulkhead (a busy one stays until its calls end). */
  forget(nodeId: string): void {
    const head = this.heads.get(nodeId);
    if (head !== undefined && head.inflight === 0 && head.queued === 0) this.heads.delete(nodeId);
  }
}
