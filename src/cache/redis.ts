/**
 * L2: Redis shared by every node of one cluster, keys under `p2p:<namespace>:`.
 *
 * Stored value: `<tags as JSON array, or empty>\n<value JSON>` with PX expiry (JSON never
 * contains a raw newline, so the split is unambiguous and the value is parsed once).
 * Tags: a set `p2p:<ns>:tag:<tag>` holds the keys carrying the tag; its expiry only grows
 * (PEXPIRE NX then GT, Redis >= 7). Invalidation by service/method SCANs `MATCH <prefix>*`
 * on every master and UNLINKs what it finds; by tag it UNLINKs the set's members.
 *
 * Failure is invisible to callers: every op is bounded (opTimeoutMs), refused at once while
 * the connection is down or the circuit breaker is open, and reported as a miss/no-op.
 */
import { randomUUID } from "node:crypto";
import { Cluster, type Redis } from "ioredis";
import { systemClock, type Clock, type Timer } from "../util/clock.js";
import { CircuitBreaker, type BreakerOptions } from "../util/circuit-breaker.js";
import { withTimeout } from "../util/with-timeout.js";
import {
  noopMetrics,
  selectorPrefixes,
  toStoredEntry,
  type Cache,
  type CacheMetricsSink,
  type InvalidationSelector,
  type SetOptions,
  type StoredEntry,
} from "./cache.js";
import { createRedisClient, escapeGlob, type RedisClient, type RedisTarget } from "./redis-client.js";

/**
 * A dead or frozen Redis must cost callers nothing: a few failed ops (half of at least 3 in
 * 10 s) open the breaker; after 2 s one probe goes through.
 */
export const REDIS_BREAKER_OPTIONS: BreakerOptions = { failureRate: 0.5, minCalls: 3, windowMs: 10_000, openMs: 2_000, halfOpenMax: 1 };

export interface RedisStatus {
  state: "up" | "down" | "disabled";
  reason?: string;
}

export type LockResult = { state: "acquired"; token: string } | { state: "busy" } | { state: "unavailable" };

export interface RedisCacheOptions {
  target: RedisTarget;
  /** Cluster name: keys live under `p2p:<namespace>:`. */
  namespace: string;
  /** Deadline of one cache op (default 50 ms). */
  opTimeoutMs?: number;
  /** Deadline of an invalidation's SCAN + UNLINK (default 2 s). */
  invalidateTimeoutMs?: number;
  breaker?: BreakerOptions;
  maxRetryDelayMs?: number;
  clock?: Clock;
  metrics?: CacheMetricsSink;
}

const FAILED: unique symbol = Symbol("redis op failed");
type Outcome<R> = R | typeof FAILED;

const UNLOCK_SCRIPT = 'if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("del", KEYS[1]) else return 0 end';

export function encodeEntry(entry: StoredEntry): string {
  return `${entry.tags ? JSON.stringify(entry.tags) : ""}\n${entry.json}`;
}

export function decodeEntry(raw: string): StoredEntry | undefined {
  const cut = raw.indexOf("\n");
  if (cut < 0) return undefined;
  const json = raw.slice(cut + 1);
  if (cut === 0) return { json };
  const tags = JSON.parse(raw.slice(0, cut)) as unknown;
  return Array.isArray(tags) ? { json, tags: tags.filter((t): t is string => typeof t === "string") } : { json };
}

export class RedisCache implements Cache {
  readonly prefix: string;
  readonly target: RedisTarget;
  readonly namespace: string;
  private readonly client: RedisClient;
  private readonly breaker: CircuitBreaker;
  private readonly opTimeoutMs: number;
  private readonly invalidateTimeoutMs: number;
  private readonly metrics: CacheMetricsSink;
  private readonly listeners = new Set<(status: RedisStatus) => void>();
  private current: RedisStatus = { state: "down", reason: "connecting" };
  private lastError = "";
  private closed = false;
  private readonly clock: Clock;
  private readonly probeAfterMs: number;
  private probeTimer: Timer | undefined;

  constructor(options: RedisCacheOptions) {
    this.prefix = `p2p:${options.namespace}:`;
    this.target = options.target;
    this.namespace = options.namespace;
    this.opTimeoutMs = options.opTimeoutMs ?? 50;
    this.invalidateTimeoutMs = options.invalidateTimeoutMs ?? 2_000;
    this.metrics = options.metrics ?? noopMetrics;
    this.clock = options.clock ?? systemClock;
    this.breaker = new CircuitBreaker(this.clock, { ...REDIS_BREAKER_OPTIONS, ...options.breaker });
    this.probeAfterMs = options.breaker?.openMs ?? 2_000;
    this.client = createRedisClient(options.target, {
      commandTimeoutMs: this.opTimeoutMs,
      maxRetryDelayMs: options.maxRetryDelayMs,
    });
    this.client.on("ready", () => {
      this.breaker.reset();
      this.setStatus({ state: "up" });
    });
    this.client.on("error", (err: Error) => {
      this.lastError = err.message || String(err);
    });
    this.client.on("close", () => {
      if (this.closed) return;
      this.breaker.trip();
      this.setStatus({ state: "down", reason: `connection lost${this.lastError ? `: ${this.lastError}` : ""}` });
    });
  }

  status(): RedisStatus {
    return { ...this.current };
  }

  /** Calls listener on every up/down change; returns an unsubscribe function. */
  onStatusChange(listener: (status: RedisStatus) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Resolves true once connected, false after timeoutMs. For start-up and tests. */
  waitUntilUp(timeoutMs: number): Promise<boolean> {
    if (this.current.state === "up") return Promise.resolve(true);
    let off!: () => void;
    const up = new Promise<boolean>((resolve) => {
      off = this.onStatusChange((s) => {
        if (s.state === "up") resolve(true);
      });
    });
    return withTimeout(up, timeoutMs, this.clock, () => false)
      .catch(() => false)
      .finally(() => off());
  }

  async getEntry(key: string): Promise<{ entry: StoredEntry; ttlMs: number } | undefined> {
    const k = this.prefix + key;
    const out = await this.run(async (c) => {
      const replies = await c.pipeline().get(k).pttl(k).exec();
      const raw = replies?.[0]?.[1];
      const ttl = replies?.[1]?.[1];
      if (replies?.[0]?.[0]) throw replies[0][0];
      return { raw: typeof raw === "string" ? raw : null, ttl: typeof ttl === "number" ? ttl : -2 };
    });
    if (out === FAILED) {
      this.metrics.request("l2", "error");
      return undefined;
    }
    const entry = out.raw !== null && out.ttl !== -2 ? decodeEntry(out.raw) : undefined;
    this.metrics.request("l2", entry ? "hit" : "miss");
    if (!entry) return undefined;
    // -1: no expiry (written by someone else without PX); treat as a short-lived copy.
    return { entry, ttlMs: out.ttl > 0 ? out.ttl : 1_000 };
  }

  async setEntry(key: string, entry: StoredEntry, ttlMs: number): Promise<boolean> {
    const k = this.prefix + key;
    const px = Math.max(1, Math.ceil(ttlMs));
    const out = await this.run(async (c) => {
      const writes: Promise<unknown>[] = [c.set(k, encodeEntry(entry), "PX", px)];
      // Separate commands, not one pipeline: in a cluster the tag set may live on another slot.
      for (const tag of entry.tags ?? []) {
        const tk = this.tagKey(tag);
        writes.push(c.sadd(tk, k), c.pexpire(tk, px, "NX"), c.pexpire(tk, px, "GT"));
      }
      await Promise.all(writes);
      return true;
    });
    return out !== FAILED;
  }

  async delete(key: string): Promise<boolean> {
    const out = await this.run((c) => c.unlink(this.prefix + key));
    return out !== FAILED && out > 0;
  }

  /** Short cross-node lock (SET NX PX) so that only one node computes a hot key. */
  async tryLock(key: string, ttlMs: number): Promise<LockResult> {
    const token = randomUUID();
    const out = await this.run((c) => c.set(this.lockKey(key), token, "PX", Math.ceil(ttlMs), "NX"));
    if (out === FAILED) return { state: "unavailable" };
    return out === "OK" ? { state: "acquired", token } : { state: "busy" };
  }

  async unlock(key: string, token: string): Promise<void> {
    await this.run((c) => c.eval(UNLOCK_SCRIPT, 1, this.lockKey(key), token));
  }

  /** Deletes the matching keys in Redis; resolves to how many were deleted (0 when Redis is unavailable). */
  async invalidateRemote(selector: InvalidationSelector): Promise<number> {
    const out = await this.run(async (c) => {
      if ("tag" in selector) {
        const tk = this.tagKey(selector.tag);
        const members = await c.smembers(tk);
        const n = await this.unlinkEach(c, members);
        await c.unlink(tk);
        return n;
      }
      if ("key" in selector) return c.unlink(this.prefix + selector.key);
      let n = 0;
      for (const prefix of selectorPrefixes(selector)) {
        const pattern = `${escapeGlob(this.prefix + prefix)}*`;
        for (const node of this.masters(c)) n += await this.scanAndUnlink(c, node, pattern);
      }
      return n;
    }, this.invalidateTimeoutMs);
    return out === FAILED ? 0 : out;
  }

  /** Publishes on this connection (bounded, never throws); false when it did not go out. */
  async publish(channel: string, message: string): Promise<boolean> {
    const out = await this.run((c) => c.publish(channel, message));
    return out !== FAILED;
  }

  async get<T>(key: string): Promise<T | undefined> {
    const hit = await this.getEntry(key);
    return hit ? (JSON.parse(hit.entry.json) as T) : undefined;
  }

  async set<T>(key: string, value: T, options: SetOptions): Promise<void> {
    const entry = toStoredEntry(value, options.tags);
    if (entry && options.ttlMs > 0) await this.setEntry(key, entry, options.ttlMs);
    else await this.delete(key);
  }

  async del(key: string): Promise<void> {
    await this.delete(key);
  }

  async invalidate(selector: InvalidationSelector): Promise<number> {
    return this.invalidateRemote(selector);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.probeTimer?.cancel();
    this.listeners.clear();
    this.client.disconnect();
  }

  private tagKey(tag: string): string {
    return `${this.prefix}tag:${tag}`;
  }

  private lockKey(key: string): string {
    return `${this.prefix}lock:${key}`;
  }

  private masters(c: RedisClient): Redis[] {
    return c instanceof Cluster ? c.nodes("master") : [c];
  }

  private async scanAndUnlink(c: RedisClient, node: Redis, pattern: string): Promise<number> {
    let cursor = "0";
    let n = 0;
    do {
      const [next, keys] = await node.scan(cursor, "MATCH", pattern, "COUNT", 1000);
      cursor = next;
      n += await this.unlinkEach(c, keys);
    } while (cursor !== "0" && !this.closed);
    return n;
  }

  /** One UNLINK per key: multi-key commands fail across cluster slots. */
  private async unlinkEach(c: RedisClient, keys: string[]): Promise<number> {
    let n = 0;
    for (let i = 0; i < keys.length; i += 500) {
      const counts = await Promise.all(keys.slice(i, i + 500).map((k) => c.unlink(k)));
      for (const count of counts) n += count;
    }
    return n;
  }

  /** Runs one bounded op through the breaker; FAILED instead of throwing or waiting. */
  private async run<R>(op: (c: RedisClient) => Promise<R>, timeoutMs = this.opTimeoutMs): Promise<Outcome<R>> {
    if (this.closed || this.client.status !== "ready" || !this.breaker.tryAcquire()) return FAILED;
    try {
      const result = await withTimeout(op(this.client), timeoutMs, this.clock, () => new Error(`Redis op timed out after ${timeoutMs} ms`));
      if (this.breaker.success() || this.current.state !== "up") this.setStatus({ state: "up" });
      return result;
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      this.lastError = message;
      if (this.breaker.failure()) {
        this.setStatus({ state: "down", reason: message });
        this.scheduleProbe();
      }
      return FAILED;
    }
  }

  /**
   * With the connection still open (a slow or frozen server), no "ready" event will tell us
   * it recovered: a background PING per breaker period does, even when no caller uses the cache.
   */
  private scheduleProbe(): void {
    if (this.probeTimer || this.closed) return;
    this.probeTimer = this.clock.setTimeout(() => {
      this.probeTimer = undefined;
      if (this.closed || this.client.status !== "ready" || this.current.state === "up") return;
      void this.run((c) => c.ping()).then((out) => {
        if (out === FAILED) this.scheduleProbe();
      });
    }, this.probeAfterMs);
  }

  private setStatus(next: RedisStatus): void {
    if (this.closed) return;
    const changed = next.state !== this.current.state;
    this.current = next;
    if (!changed) return;
    this.metrics.redisState(next.state === "up");
    for (const listener of this.listeners) listener(this.status());
  }
}
