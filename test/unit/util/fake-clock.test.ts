import { describe, expect, it } from "vitest";
import { FakeClock } from "../../../src/util/clock.js";
import { SeededRandom, randomInt } from "../../../src/util/random.js";

describe("FakeClock", () => {
  it("fires timers in time order, ties in creation order, intervals re-queued behind timers of their instant", () => {
    const clock = new FakeClock();
    const fired: string[] = [];
    clock.setTimeout(() => fired.push("b@10"), 10);
    clock.setTimeout(() => fired.push("a@5"), 5);
    const every = clock.setInterval(() => fired.push(`i@${clock.now()}`), 5);
    clock.setTimeout(() => fired.push("c@10"), 10);
    clock.setTimeout(() => {
      fired.push("d@5");
      // Set for this very instant while it fires: runs after everything already due now.
      clock.setTimeout(() => fired.push("now@5"), 0);
      clock.setTimeout(() => fired.push("e@6"), 1);
    }, 5);
    const cancelled = clock.setTimeout(() => fired.push("never"), 7);
    cancelled.cancel();
    clock.advance(10);
    every.cancel();
    clock.advance(10);
    expect(fired).toEqual(["a@5", "i@5", "d@5", "now@5", "e@6", "b@10", "c@10", "i@10"]);
    expect(clock.now()).toBe(20);
    expect(clock.pending).toBe(0);
  });

  it("matches a sorted list of (time, creation) over random timers, cancels and nested ones", () => {
    const clock = new FakeClock();
    const random = new SeededRandom(3);
    const fired: number[] = [];
    const expected: Array<{ at: number; seq: number }> = [];
    let seq = 0;
    const add = (delay: number): void => {
      const id = seq++;
      const at = clock.now() + delay;
      const timer = clock.setTimeout(() => {
        fired.push(id);
        if (randomInt(random, 4) === 0) add(randomInt(random, 3));
      }, delay);
      if (randomInt(random, 5) === 0) timer.cancel();
      else expected.push({ at, seq: id });
    };
    for (let i = 0; i < 500; i++) add(randomInt(random, 50) + (randomInt(random, 3) === 0 ? 0.5 : 0));
    clock.advance(1_000);
    // Nested timers were added while firing: check the firing order is by (at, seq).
    const atOf = new Map<number, number>();
    for (const e of expected) atOf.set(e.seq, e.at);
    for (let i = 1; i < fired.length; i++) {
      const a = fired[i - 1]!;
      const b = fired[i]!;
      if (!atOf.has(b)) continue;
      const ta = atOf.get(a) ?? -1;
      const tb = atOf.get(b)!;
      expect(ta < tb || (ta === tb && a < b) || !atOf.has(a)).toBe(true);
    }
    expect(fired.length).toBeGreaterThan(400);
  });
});
