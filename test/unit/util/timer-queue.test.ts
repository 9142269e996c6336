import { describe, expect, it } from "vitest";
import { FakeClock } from "../../../src/util/clock.js";
import { TimerQueue } from "../../../src/util/timer-queue.js";

describe("TimerQueue", () => {
  it("fires each timer at its time, ties in the order they were set, and never a cancelled one", () => {
    const clock = new FakeClock();
    const queue = new TimerQueue(clock);
    const fired: string[] = [];
    queue.setTimeout(() => fired.push(`a@${clock.now()}`), 30);
    queue.setTimeout(() => fired.push(`b@${clock.now()}`), 10);
    const c = queue.setTimeout(() => fired.push(`c@${clock.now()}`), 20);
    queue.setTimeout(() => fired.push(`d@${clock.now()}`), 10);
    queue.setTimeout(() => fired.push(`e@${clock.now()}`), 0);
    c.cancel();
    expect(queue.size).toBe(4);
    clock.advance(9);
    expect(fired).toEqual(["e@0"]);
    clock.advance(1);
    expect(fired).toEqual(["e@0", "b@10", "d@10"]);
    clock.advance(100);
    expect(fired).toEqual(["e@0", "b@10", "d@10", "a@30"]);
    expect(queue.size).toBe(0);
    expect(clock.pending).toBe(0); // nothing left armed on the Clock
  });

  it("uses one Clock timer however many are set, re-armed for an earlier one", () => {
    const clock = new FakeClock();
    const queue = new TimerQueue(clock);
    let fired = 0;
    for (let i = 0; i < 1000; i++) queue.setTimeout(() => fired++, 1000 + i);
    expect(clock.pending).toBe(1);
    queue.setTimeout(() => fired++, 5);
    expect(clock.pending).toBe(1);
    clock.advance(5);
    expect(fired).toBe(1);
    clock.advance(2000);
    expect(fired).toBe(1001);
  });

  it("timers set and cancelled at a high rate take memory only for those alive", () => {
    const clock = new FakeClock();
    const queue = new TimerQueue(clock);
    const keep = queue.setTimeout(() => undefined, 60_000);
    for (let i = 0; i < 100_000; i++) queue.setTimeout(() => undefined, 30_000).cancel();
    expect(queue.size).toBe(1);
    expect((queue as unknown as { heap: { size: number } }).heap.size).toBeLessThanOrEqual(130);
    keep.cancel();
  });

  it("a timer that throws does not keep the others due at the same time from running", () => {
    const clock = new FakeClock();
    const queue = new TimerQueue(clock);
    const fired: number[] = [];
    queue.setTimeout(() => {
      throw new Error("boom");
    }, 10);
    queue.setTimeout(() => fired.push(2), 10);
    expect(() => clock.advance(10)).toThrow("boom");
    expect(fired).toEqual([2]);
    queue.setTimeout(() => fired.push(3), 5);
    clock.advance(5);
    expect(fired).toEqual([2, 3]);
  });
});
