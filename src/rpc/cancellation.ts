/**
 * A call's "nobody waits any more" flag. Cheaper than an AbortSignal on the hot path: adding a
 * listener to a fresh AbortSignal costs tens of microseconds in Node 20 (it registers the
 * signal for garbage-collection tracking); this is an array push. A real AbortSignal is made
 * only when a method asks for `this.call.signal`.
 */
export class Cancellation {
  private listeners: ((reason: unknown) => void)[] | null = [];
  private why: unknown = undefined;

  get cancelled(): boolean {
    return this.listeners === null;
  }

  get reason(): unknown {
    return this.why;
  }

  /** Fires every listener once; later calls do nothing. */
  cancel(reason: unknown): void {
    const listeners = this.listeners;
    if (!listeners) return;
    this.listeners = null;
    this.why = reason;
    for (const fn of listeners) fn(reason);
  }

  /** Runs fn on cancel (at once if already cancelled); returns the unsubscribe function. */
  onCancel(fn: (reason: unknown) => void): () => void {
    const listeners = this.listeners;
    if (!listeners) {
      fn(this.why);
      return noop;
    }
    listeners.push(fn);
    return () => {
      const at = this.listeners?.indexOf(fn) ?? -1;
      if (at >= 0) this.listeners!.splice(at, 1);
    };
  }
}

function noop(): void {}
