import type { InvalidationSelector } from "./cache.js";
import type { InvalidationBus, InvalidationHandler, PeerCounts } from "./invalidation.js";

/**
 * Invalidation through the cluster itself (no Redis needed): publish sends the selector to
 * every other alive node over the peer link; the link's handler calls deliver() on arrival.
 */
export class ClusterInvalidationBus implements InvalidationBus {
  private handler: InvalidationHandler | undefined;

  constructor(private readonly send: (selector: InvalidationSelector) => Promise<PeerCounts>) {}

  /** Resolves with what each node that answered dropped. */
  async publish(selector: InvalidationSelector): Promise<PeerCounts> {
    return this.send(selector).catch(() => ({}));
  }

  subscribe(handler: InvalidationHandler): void {
    this.handler = handler;
  }

  /** A selector from another node: drops matching entries here; how many. */
  deliver(selector: InvalidationSelector): number {
    return this.handler?.(selector) ?? 0;
  }

  async close(): Promise<void> {
    this.handler = undefined;
  }
}
