import { describe, expect, it } from "vitest";
import { FakeClock } from "../../../src/util/clock.js";
import { InflightTracker } from "../../../src/util/inflight.js";
import { flush } from "../rpc/helpers.js";

/** The shutdown wait runs on the injected clock (one race helper, no raw timers). */
describe("InflightTracker.idle on the injected clock", () => {
  it("resolves false when the time passes first, exactly then, and leaves no timer behind", async () => {
    const clock = new FakeClock(0);
    const inflight = new InflightTracker(clock);
    inflight.enter();
    let result: boolean | undefined;
    void inflight.idle(1_000).then((v) => (result = v));
    clock.advance(999);
    await flush();
    expect(result).toBeUndefined();
    clock.advance(1);
    await flush();
    expect(result).toBe(false);
    expect(clock.pending).toBe(0);
    inflight.leave(); // a late idle wakes no one
  });

  it("resolves true as soon as the last call leaves, and cancels its timer", async () => {
    const clock = new FakeClock(0);
    const inflight = new InflightTracker(clock);
    inflight.enter();
    inflight.enter();
    let result: boolean | undefined;
    void inflight.idle(10_000).then((v) => (result = v));
    inflight.leave();
    await flush();
    expect(result).toBeUndefined();
    inflight.leave();
    await flush();
    expect(result).toBe(true);
    expect(clock.pending).toBe(0);
  });
});
