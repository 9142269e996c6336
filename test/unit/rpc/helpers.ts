/** Shared test helpers: settle pending promise callbacks without real sleeps. */
export async function flush(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

export { deferred, type Deferred } from "../../helpers/deferred.js";
