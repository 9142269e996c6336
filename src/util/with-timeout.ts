/**
 * The one promise-versus-timer race: settles like `promise`, or rejects with `onTimeout()`
 * once `ms` have passed on the injected clock. The timer is cancelled as soon as the promise
 * settles, so nothing lingers; a late rejection of `promise` is swallowed (no one is left to
 * tell). rpc/deadline.ts builds `withDeadline` on it; every other bounded wait uses it too.
 */
import type { Clock } from "./clock.js";

export function withTimeout<T>(promise: Promise<T>, ms: number, clock: Clock, onTimeout: () => unknown): Promise<T> {
  if (!(ms > 0)) {
    promise.then(undefined, noop);
    return Promise.reject(onTimeout());
  }
  return new Promise<T>((resolve, reject) => {
    const timer = clock.setTimeout(() => reject(onTimeout()), ms);
    promise.then(
      (value) => {
        timer.cancel();
        resolve(value);
      },
      (err: unknown) => {
        timer.cancel();
        reject(err);
      },
    );
  });
}

function noop(): void {}
