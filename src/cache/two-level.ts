/**
 * The node's cache: L1 (per node, memory) in front of L2 (shared Redis, optional), with
 * cluster-wide invalidation over any InvalidationBus and stampede protection:
 * - on one node, concurrent misses of a key share one loader run (single flight);
 * - across nodes, a short Redis lock lets one node load while the others poll L2 briefly
 *   (lockWaitMs) and then load themselves if nothing arrived.
 * Loader errors are never cached; they reach every waiter of that flight, except those a
 * waiter must not inherit (LoadOptions.ownFailure: the leader's own deadline), which make it
 * load once itself. Each waiter bounds its own wait (the router wraps it in its deadline).
 * Results come back as a JSON round trip on every path (hit or load), so callers see the
 * same shapes whichever level answered and cannot mutate what others get.
 */
import { systemClock, type Clock } from "../util/clock.js";
import { selectorMatches, toStoredEntry, type Cache, type InvalidationSelector, type SetOptions, type StoredEntry } from "./cache.js";
import type { InvalidationBus, PeerCounts } from "./invalidation.js";
import { MemoryCache, type MemoryCacheOptions } from "./memory.js";
import type { RedisCache, RedisStatus } from "./redis.js";

export interface TwoLevelCacheOptions {
  /** An L1 instance or its options. */
  l1?: MemoryCache | MemoryCacheOptions;
  /** Shared level; without it the cache is memory only and status() is "disabled". */
  l2?: RedisCache;
  bus?: InvalidationBus;
  /** Cross-node load lock lifetime (default 3000 ms). */
  lockMs?: number;
  /** How long a node that lost the lock polls L2 before loading itself (default 1000 ms). */
  lockWaitMs?: number;
  lockPollMs?: number;
  clock?: Clock;
}

type Loader<T> = () => Promise<T> | T;

export interface LoadOptions {
  /**
   * A failure of a load another caller started that this caller must not inherit (e.g. that
   * caller's own TIMEOUT): this caller then loads once itself.
   */
  ownFailure?: (err: unknown) => boolean;
}

interface Flight {
  promise: Promise<string | undefined>;
  tags: readonly string[] | undefined;
  /** Set when an invalidation matched while loading: the result is returned but not stored. */
  stale: boolean;
}

export class TwoLevelCache implements Cache {
  readonly l1: MemoryCache;
  readonly l2: RedisCache | undefined;
  private readonly bus: InvalidationBus | undefined;
  private readonly flights = new Map<string, Flight>();
  private readonly lockMs: number;
  private readonly lockWaitMs: number;
  private readonly lockPollMs: number;
  private readonly clock: Clock;

  constructor(options: TwoLevelCacheOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.l1 = options.l1 instanceof MemoryCache ? options.l1 : new MemoryCache({ clock: this.clock, ...options.l1 });
    this.l2 = options.l2;
    this.bus = options.bus;
    this.lockMs = options.lockMs ?? 3_000;
    this.lockWaitMs = options.lockWaitMs ?? 1_000;
    this.lockPollMs = options.lockPollMs ?? 20;
    this.bus?.subscribe((selector) => this.dropLocal(selector));
  }

  status(): RedisStatus {
    return this.l2 ? this.l2.status() : { state: "disabled" };
  }

  /** Up/down changes of the shared level; never fires without one. */
  /** Resolves true once the shared level answers (at once without one), false after timeoutMs. */
  waitUntilUp(timeoutMs: number): Promise<boolean> {
    return this.l2 ? this.l2.waitUntilUp(timeoutMs) : Promise.resolve(true);
  }

  onStatusChange(listener: (status: RedisStatus) => void): () => void {
    return this.l2 ? this.l2.onStatusChange(listener) : () => {};
  }

  get<T>(key: string): Promise<T | undefined> {
    // The L1 hit path stays free of extra awaits: it is the hot path of every cached call.
    const hit = this.l1.getEntry(key);
    if (hit) return Promise.resolve(JSON.parse(hit.json) as T);
    return this.l2 ? this.fromL2<T>(key, this.l2) : Promise.resolve(undefined);
  }

  async set<T>(key: string, value: T, options: SetOptions): Promise<void> {
    const entry = toStoredEntry(value, options.tags);
    if (!entry || !(options.ttlMs > 0)) return this.del(key);
    this.l1.setEntry(key, entry, options.ttlMs);
    await this.l2?.setEntry(key, entry, options.ttlMs);
  }

  /** Deletes here and in L2, and tells the other nodes to drop their L1 copy. */
  async del(key: string): Promise<void> {
    this.dropLocal({ key });
    await this.l2?.delete(key);
    await this.publish({ key });
  }

  /**
   * Drops matching entries on this node, then in L2, then tells the other nodes (after L2,
   * so that a node reacting to the message cannot refill its L1 from a stale L2 entry).
   */
  async invalidate(selector: InvalidationSelector): Promise<number> {
    return (await this.invalidateEverywhere(selector)).here;
  }

  /** Like invalidate(), with what every level dropped: here, in L2, and on each node that answered. */
  async invalidateEverywhere(selector: InvalidationSelector): Promise<{ here: number; shared: number; peers: PeerCounts }> {
    const here = this.dropLocal(selector);
    const shared = (await this.l2?.invalidateRemote(selector)) ?? 0;
    const peers = (await this.publish(selector)) ?? {};
    return { here, shared, peers };
  }

  /** The cached value of key, or the loader's result (cached for ttlMs unless it is undefined). */
  async getOrLoad<T>(key: string, ttlMs: number, loader: Loader<T>, tags?: readonly string[], options: LoadOptions = {}): Promise<T> {
    const hit = this.l1.getEntry(key);
    if (hit) return JSON.parse(hit.json) as T;
    let flight = this.flights.get(key);
    if (flight && options.ownFailure) {
      const joined = flight;
      try {
        const json = await joined.promise;
        return (json === undefined ? undefined : JSON.parse(json)) as T;
      } catch (err) {
        if (!options.ownFailure(err)) throw err;
        return this.getOrLoad(key, ttlMs, loader, tags); // once, as a leader or behind a newer one
      }
    }
    if (!flight) {
      const created: Flight = { promise: Promise.resolve(undefined), tags, stale: false };
      created.promise = this.load(key, ttlMs, loader as Loader<unknown>, created).finally(() => {
        if (this.flights.get(key) === created) this.flights.delete(key);
      });
      this.flights.set(key, created);
      flight = created;
    }
    const json = await flight.promise;
    return (json === undefined ? undefined : JSON.parse(json)) as T;
  }

  async close(): Promise<void> {
    this.flights.clear();
    await this.bus?.close();
    await this.l2?.close();
    await this.l1.close();
  }

  private async fromL2<T>(key: string, l2: RedisCache): Promise<T | undefined> {
    const remote = await l2.getEntry(key);
    if (!remote) return undefined;
    this.l1.setEntry(key, remote.entry, remote.ttlMs);
    return JSON.parse(remote.entry.json) as T;
  }

  private async load(key: string, ttlMs: number, loader: Loader<unknown>, flight: Flight): Promise<string | undefined> {
    if (!this.l2) return this.runLoader(key, ttlMs, loader, flight);
    const remote = await this.l2.getEntry(key);
    if (remote) return this.keep(key, remote.entry, remote.ttlMs, flight, false);
    const lock = await this.l2.tryLock(key, this.lockMs);
    if (lock.state === "busy") {
      const arrived = await this.waitForPeer(key);
      if (arrived) return this.keep(key, arrived.entry, arrived.ttlMs, flight, false);
    }
    try {
      return await this.runLoader(key, ttlMs, loader, flight);
    } finally {
      // Not awaited (it never throws): waiting nodes poll L2 for the value, not the lock.
      if (lock.state === "acquired") void this.l2.unlock(key, lock.token);
    }
  }

  private async runLoader(key: string, ttlMs: number, loader: Loader<unknown>, flight: Flight): Promise<string | undefined> {
    const value = await loader();
    const entry = toStoredEntry(value, flight.tags);
    if (!entry || !(ttlMs > 0)) return entry?.json;
    return this.keep(key, entry, ttlMs, flight, true);
  }

  private async keep(key: string, entry: StoredEntry, ttlMs: number, flight: Flight, writeL2: boolean): Promise<string> {
    if (!flight.stale) {
      this.l1.setEntry(key, entry, ttlMs);
      if (writeL2) await this.l2?.setEntry(key, entry, ttlMs);
    }
    return entry.json;
  }

  /** Polls L2 while another node holds the load lock; undefined when the wait ran out. */
  private async waitForPeer(key: string): Promise<{ entry: StoredEntry; ttlMs: number } | undefined> {
    const until = this.clock.now() + this.lockWaitMs;
    while (this.clock.now() < until && this.l2?.status().state === "up") {
      await new Promise<void>((resolve) => this.clock.setTimeout(resolve, this.lockPollMs));
      const remote = await this.l2.getEntry(key);
      if (remote) return remote;
    }
    return undefined;
  }

  private dropLocal(selector: InvalidationSelector): number {
    for (const [key, flight] of this.flights) {
      if (selectorMatches(selector, key, flight.tags)) {
        flight.stale = true;
        this.flights.delete(key);
      }
    }
    return this.l1.invalidateLocal(selector);
  }

  private async publish(selector: InvalidationSelector): Promise<PeerCounts | void> {
    try {
      return await this.bus?.publish(selector);
    } catch {
      // Best effort: other nodes' L1 copies then live until their TTL.
    }
  }
}
