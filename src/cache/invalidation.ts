/**
 * Cluster-wide invalidation: a bus carries selectors to every node so each drops its L1
 * copies. Any transport fits the InvalidationBus interface (Redis pub/sub here; the node
 * adds a gossip/broadcast one for clusters without Redis). Handlers must be idempotent:
 * a selector may arrive twice (e.g. over two buses) and that is harmless.
 */
import { systemClock } from "../util/clock.js";
import { withTimeout } from "../util/with-timeout.js";
import { randomUUID } from "node:crypto";
import { isInvalidationSelector, type InvalidationSelector } from "./cache.js";
import { createRedisClient, type RedisClient } from "./redis-client.js";
import type { RedisCache } from "./redis.js";

/** Returns how many entries it dropped, when it knows. */
export type InvalidationHandler = (selector: InvalidationSelector) => number | void;

/** Entries each other node reported dropping, by node id (buses that cannot count report nothing). */
export type PeerCounts = Record<string, number>;

export interface InvalidationBus {
  /** Sends to every OTHER node; never throws for transport trouble (best effort). */
  publish(selector: InvalidationSelector): Promise<PeerCounts | void>;
  subscribe(handler: InvalidationHandler): void;
  close(): Promise<void>;
}

interface WireMessage {
  o: string;
  s: InvalidationSelector;
}

/**
 * Redis pub/sub on `p2p:<namespace>:invalidate`. Publishes through the RedisCache's
 * connection (bounded, breaker-protected); listens on a separate subscriber connection
 * that ioredis re-subscribes after every reconnect. Own messages are skipped by origin id.
 */
export class RedisInvalidationBus implements InvalidationBus {
  readonly channel: string;
  readonly originId: string;
  private readonly subscriber: RedisClient;
  private readonly handlers: InvalidationHandler[] = [];
  private readonly subscribed: Promise<boolean>;

  constructor(
    private readonly redis: RedisCache,
    options: { originId?: string } = {},
  ) {
    this.channel = `p2p:${redis.namespace}:invalidate`;
    this.originId = options.originId ?? randomUUID();
    this.subscriber = createRedisClient(redis.target, { commandTimeoutMs: 0, subscriber: true });
    this.subscriber.on("error", () => {
      // Reconnection is ioredis' job; the cache's status already reports Redis trouble.
    });
    this.subscriber.on("message", (channel: string, text: string) => {
      if (channel === this.channel) this.deliver(text);
    });
    this.subscribed = this.subscriber.subscribe(this.channel).then(
      () => true,
      () => false,
    );
  }

  /** Resolves once the first SUBSCRIBE is acknowledged (false if it failed or timed out). */
  ready(timeoutMs = 2_000): Promise<boolean> {
    return withTimeout(this.subscribed, timeoutMs, systemClock, () => false).catch(() => false);
  }

  async publish(selector: InvalidationSelector): Promise<void> {
    const message: WireMessage = { o: this.originId, s: selector };
    await this.redis.publish(this.channel, JSON.stringify(message));
  }

  subscribe(handler: InvalidationHandler): void {
    this.handlers.push(handler);
  }

  async close(): Promise<void> {
    this.handlers.length = 0;
    this.subscriber.disconnect();
  }

  private deliver(text: string): void {
    let message: unknown;
    try {
      message = JSON.parse(text);
    } catch {
      return;
    }
    if (!message || typeof message !== "object") return;
    const { o, s } = message as Partial<WireMessage>;
    if (o === this.originId || !isInvalidationSelector(s)) return;
    for (const handler of this.handlers) handler(s);
  }
}

/** Publishes on every bus and listens on all of them (e.g. Redis pub/sub + cluster gossip). */
export class CompositeBus implements InvalidationBus {
  constructor(private readonly buses: readonly InvalidationBus[]) {}

  async publish(selector: InvalidationSelector): Promise<PeerCounts> {
    const counts = await Promise.all(this.buses.map((bus) => bus.publish(selector).catch(() => undefined)));
    return Object.assign({}, ...counts.filter((c): c is PeerCounts => c !== undefined)) as PeerCounts;
  }

  subscribe(handler: InvalidationHandler): void {
    for (const bus of this.buses) bus.subscribe(handler);
  }

  async close(): Promise<void> {
    await Promise.all(this.buses.map((bus) => bus.close()));
  }
}

/** In-process bus network for tests and single-process simulations: each node gets a bus. */
export class MemoryBusNetwork {
  private readonly members = new Set<{ handlers: InvalidationHandler[] }>();

  createBus(): InvalidationBus {
    const member = { handlers: [] as InvalidationHandler[] };
    this.members.add(member);
    return {
      publish: async (selector) => {
        for (const other of this.members) {
          if (other === member) continue;
          for (const handler of other.handlers) handler(selector);
        }
      },
      subscribe: (handler) => {
        member.handlers.push(handler);
      },
      close: async () => {
        this.members.delete(member);
      },
    };
  }
}
