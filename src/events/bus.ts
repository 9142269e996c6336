/**
 * The node's one event bus: membership changes, leader changes, deployment progress, service
 * status and metrics snapshots. Subscribers (the SSE route, the audit log) get events as they
 * are published; a bounded ring of recent events lets a reconnecting client resume by id.
 */
export interface ClusterEvent {
  /** Increasing per node, from 1. */
  id: number;
  type: string;
  /** ISO-8601 wall-clock time of publication. */
  time: string;
  data: unknown;
}

export type EventListener = (event: ClusterEvent) => void;

export interface PublishOptions {
  /**
   * Delivered to current subscribers but not kept for resumption: for snapshots that the next
   * one supersedes (metrics every second), which would otherwise crowd the ring out.
   */
  transient?: boolean;
}

/** Events kept for resumption. */
export const DEFAULT_RING_SIZE = 1024;

export class EventBus {
  /** Circular buffer of kept (non-transient) events, oldest at `head`. */
  private readonly ring: (ClusterEvent | undefined)[];
  private head = 0;
  private count = 0;
  /** Id of the newest kept event that fell out of the ring (0: none yet). */
  private evictedUpTo = 0;
  private nextId = 1;
  private readonly listeners = new Set<EventListener>();
  private readonly watchers = new Set<(count: number) => void>();

  constructor(
    private readonly capacity = DEFAULT_RING_SIZE,
    private readonly wallClock: () => number = Date.now,
  ) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new Error("event ring capacity must be a positive integer");
    this.ring = new Array<ClusterEvent | undefined>(capacity);
  }

  /** Id of the newest event (0 before the first). */
  get lastId(): number {
    return this.nextId - 1;
  }

  get subscriberCount(): number {
    return this.listeners.size;
  }

  publish(type: string, data: unknown, options: PublishOptions = {}): ClusterEvent {
    const event: ClusterEvent = { id: this.nextId++, type, time: new Date(this.wallClock()).toISOString(), data };
    if (!options.transient) this.keep(event);
    for (const listener of [...this.listeners]) {
      try {
        listener(event);
      } catch {
        // A failing subscriber must not stop the others nor the publisher.
      }
    }
    return event;
  }

  /** Calls fn for every event published from now on; returns the unsubscribe function. */
  subscribe(fn: EventListener): () => void {
    this.listeners.add(fn);
    this.notifyWatchers();
    return () => {
      if (this.listeners.delete(fn)) this.notifyWatchers();
    };
  }

  /**
   * Kept events after `id`, oldest first: [] when the caller is up to date, null when some
   * have already left the ring, or the id is not one this bus gave out (a gap: the caller
   * must start over from a fresh snapshot). Transient events are not replayed.
   */
  since(id: number): ClusterEvent[] | null {
    const last = this.lastId;
    // An id from the future comes from an earlier run of this node (or another node): a gap.
    if (!Number.isInteger(id) || id < 0 || id > last) return null;
    if (id < this.evictedUpTo) return null;
    const out: ClusterEvent[] = [];
    for (let i = this.count - 1; i >= 0; i--) {
      const event = this.ring[(this.head + i) % this.capacity]!;
      if (event.id <= id) break;
      out.push(event);
    }
    return out.reverse();
  }

  /** Tells fn how many subscribers there are whenever that changes (e.g. to compute snapshots only while watched). */
  watchSubscribers(fn: (count: number) => void): () => void {
    this.watchers.add(fn);
    return () => this.watchers.delete(fn);
  }

  private keep(event: ClusterEvent): void {
    if (this.count === this.capacity) {
      this.evictedUpTo = this.ring[this.head]!.id;
      this.ring[this.head] = event;
      this.head = (this.head + 1) % this.capacity;
      return;
    }
    this.ring[(this.head + this.count) % this.capacity] = event;
    this.count += 1;
  }

  private notifyWatchers(): void {
    for (const w of this.watchers) w(this.listeners.size);
  }
}
