/**
 * A call's "nobody waits any more" flag. Cheaper than an AbortSignal on the hot path: adding a
 * listener to a fresh AbortSignal costs tens of microseconds in Node 20 (it registers the
 * signal for garbage-collection tracking); this is a set insertion. A real AbortSignal is made
 * only when a method asks for `this.call.signal`.
 */
export class Cancellation {
  /**
   * The first listener, while it is the only one ever added (a call from the link or /rpc has
   * one: its scope), so most cancellations allocate no Set.
   */
  private first: ((reason: unknown) => void) | null = null;
  /**
   * Further listeners in the order added; created on first use. A Set, so a call that ends
   * unsubscribes in O(1): a method with 100 calls in flight has 100 listeners here.
   */
  private listeners: Set<(reason: unknown) => void> | null = null;
  private fired = false;
  private why: unknown = undefined;

  get cancelled(): boolean {
    return this.fired;
  }

  get reason(): unknown {
    return this.why;
  }

  /** Fires every listener once, in the order added; later calls do nothing. */
  cancel(reason: unknown): void {
    if (this.fired) return;
    this.fired = true;
    this.why = reason;
    const first = this.first;
    const listeners = this.listeners;
    this.first = null;
    this.listeners = null;
    if (first) first(reason);
    if (listeners) for (const fn of listeners) fn(reason);
  }

  /** Runs fn on cancel (at once if already cancelled); returns the unsubscribe function. */
  onCancel(fn: (reason: unknown) => void): () => void {
    if (this.fired) {
      fn(this.why);
      return noop;
    }
    if (this.first === null && this.listeners === null) {
      this.first = fn;
      return () => {
        if (this.first === fn) this.first = null;
      };
    }
    const listeners = (this.listeners ??= new Set());
    // The same function twice is called twice, as with any listener list.
    const entry = fn === this.first || listeners.has(fn) ? (reason: unknown) => fn(reason) : fn;
    listeners.add(entry);
    return () => {
      this.listeners?.delete(entry);
    };
  }
}

function noop(): void {}
