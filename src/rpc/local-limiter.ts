/**
 * Bounds the methods this node runs at once, whoever asked (/rpc, a peer, a service proxy):
 * up to `maxRunning` run, up to `maxQueued` more wait in a FIFO queue, the rest are refused
 * at once with 503 UNAVAILABLE (`reason: "bulkhead_full"`: provably not run, so a caller
 * may retry elsewhere, and it says nothing bad about the node's health).
 *
 * Fairness: one method (service.method) may hold at most half the running slots and half the
 * queue, so a flood of calls to one slow method leaves room for every other method.
 * A slot is held while the method runs, but at most until its deadline plus LINGER_MS: a
 * call answered TIMEOUT keeps its slot while its work may still be going on (so short
 * deadlines cannot multiply the work in progress), and a method that never settles cannot
 * hold a slot for ever.
 */
import { P2PError } from "../errors.js";
import type { Clock, Timer } from "../util/clock.js";
import type { Deadline } from "./deadline.js";

export const LINGER_MS = 10_000;

export interface LocalLimits {
  maxRunning: number;
  maxQueued: number;
}

interface Waiter {
  key: string;
  deadline: Deadline;
  capped: boolean;
  grant: (release: () => void) => void;
  timer: Timer;
}

export class LocalLimiter {
  private running = 0;
  private readonly runningByKey = new Map<string, number>();
  private readonly queuedByKey = new Map<string, number>();
  private queue: Waiter[] = [];
  private readonly perKeyRunning: number;
  private readonly perKeyQueued: number;

  constructor(
    readonly limits: LocalLimits,
    private readonly clock: Clock,
  ) {
    this.perKeyRunning = Math.max(1, Math.ceil(limits.maxRunning / 2));
    this.perKeyQueued = Math.ceil(limits.maxQueued / 2);
  }

  get active(): number {
    return this.running;
  }

  get queued(): number {
    return this.queue.length;
  }

  /**
   * A slot for `key` now, without waiting (and without a tick), or null when it would have to wait.
   * `capped` false: the caller itself releases the slot at the latest LINGER_MS after the
   * deadline (the router's local path does, from the deadline timer it has anyway).
   */
  tryAcquire(key: string, deadline: Deadline, capped = true): (() => void) | null {
    if (this.running < this.limits.maxRunning && (this.runningByKey.get(key) ?? 0) < this.perKeyRunning) return this.grant(key, deadline, capped);
    return null;
  }

  /**
   * Waits for a slot for `key` (service.method); resolves with its release function, or
   * rejects with UNAVAILABLE (queue full) or the deadline's TIMEOUT (still queued).
   * `release` must be called when the method settles; it is idempotent. `capped`: as for tryAcquire.
   */
  acquire(key: string, deadline: Deadline, capped = true): Promise<() => void> {
    const now = this.tryAcquire(key, deadline, capped);
    if (now) return Promise.resolve(now);
    if (this.queue.length >= this.limits.maxQueued || (this.queuedByKey.get(key) ?? 0) >= this.perKeyQueued) {
      return Promise.reject(
        new P2PError("UNAVAILABLE", `node is at its limit of ${this.limits.maxRunning} running and ${this.limits.maxQueued} queued calls (${key} may use half)`, {
          reason: "bulkhead_full",
          limit: "local_executions",
        }),
      );
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        key,
        deadline,
        capped,
        grant: resolve,
        timer: this.clock.setTimeout(() => {
          this.unqueue(waiter);
          reject(deadline.timeoutError({ queued: true }));
        }, deadline.remaining()),
      };
      this.queue.push(waiter);
      bump(this.queuedByKey, key, 1);
    });
  }

  private grant(key: string, deadline: Deadline, capped = true): () => void {
    this.running += 1;
    bump(this.runningByKey, key, 1);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      cap?.cancel();
      this.running -= 1;
      bump(this.runningByKey, key, -1);
      this.next();
    };
    const cap = capped ? this.clock.setTimeout(release, deadline.remaining() + LINGER_MS) : null;
    return release;
  }

  /** Gives free slots to the oldest waiters whose method is under its share. */
  private next(): void {
    for (let i = 0; i < this.queue.length && this.running < this.limits.maxRunning; ) {
      const waiter = this.queue[i]!;
      if ((this.runningByKey.get(waiter.key) ?? 0) >= this.perKeyRunning) {
        i += 1;
        continue;
      }
      this.queue.splice(i, 1);
      bump(this.queuedByKey, waiter.key, -1);
      waiter.timer.cancel();
      waiter.grant(this.grant(waiter.key, waiter.deadline, waiter.capped));
    }
  }

  private unqueue(waiter: Waiter): void {
    const i = this.queue.indexOf(waiter);
    if (i < 0) return;
    this.queue.splice(i, 1);
    bump(this.queuedByKey, waiter.key, -1);
  }
}

function bump(counts: Map<string, number>, key: string, by: number): void {
  const n = (counts.get(key) ?? 0) + by;
  if (n <= 0) counts.delete(key);
  else counts.set(key, n);
}
