import type { InvalidationSelector } from "./cache.js";
import type { InvalidationBus, InvalidationHandler } from "./invalidation.js";

/**
 * Invalidation through the cluster itself (no Redis needed): publish sends the selector to
 * every other alive node over the peer link; the link's handler calls deliver() on arrival.
 */
export class ClusterInvalidationBus implements InvalidationBus {
  private handler: InvalidationHandler | undefined;

  constructor(private readonly send: (selector: InvalidationSelector) => Promise<void>) {}

  async publish(selector: InvalidationSelector): Promise<void> {
    await this.send(selector).catch(() => undefined);
  }

  subscribe(handler: InvalidationHandler): void {
    this.handler = handler;
  }

  deliver(selector: InvalidationSelector): void {
    this.handler?.(selector);
  }

  async close(): Promise<void> {
    this.handler = undefined;
  }
}
