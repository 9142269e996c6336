import { createServer, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { connectUpgrade } from "../../src/transport/upgrade.js";
import { FakeClock } from "../../src/util/clock.js";

/** Stream set-up times out on the injected clock (one race helper), not on a raw timer. */
describe("connectUpgrade on the injected clock", () => {
  const closers: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const close of closers.splice(0)) await close();
  });

  it("a server that never answers the upgrade: rejected exactly when the clock says, socket closed", async () => {
    const accepted: Socket[] = [];
    let closed = 0;
    const server = createServer((s) => {
      accepted.push(s); // accepts, reads, never answers
      s.on("close", () => closed++);
      s.resume();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    closers.push(
      () =>
        new Promise<void>((resolve) => {
          for (const s of accepted) s.destroy();
          server.close(() => resolve());
        }),
    );
    const port = (server.address() as { port: number }).port;
    const clock = new FakeClock(0);
    let outcome: unknown;
    const pending = connectUpgrade("127.0.0.1", port, "p2p-link", 1_000, undefined, clock).then(
      () => "upgraded",
      (err: unknown) => (outcome = err),
    );
    await expect.poll(() => accepted.length).toBe(1);
    clock.advance(999);
    await new Promise((r) => setImmediate(r));
    expect(outcome).toBeUndefined();
    clock.advance(1);
    await pending;
    expect(String(outcome)).toMatch(/upgrade to 127\.0\.0\.1:\d+ timed out/);
    expect(clock.pending).toBe(0);
    await expect.poll(() => closed).toBe(1); // the client side gave the connection up
  });
});
