import { describe, expect, it } from "vitest";
import { Awareness } from "../../../src/cluster/membership/awareness.js";
import { BroadcastQueue } from "../../../src/cluster/membership/broadcast-queue.js";
import { pushPullScale, retransmitLimit, suspicionTimeout } from "../../../src/cluster/membership/config.js";
import { remainingSuspicionTime, Suspicion } from "../../../src/cluster/membership/suspicion.js";
import { FakeClock } from "../../../src/util/clock.js";

// Test vectors from hashicorp/memberlist (util_test.go, suspicion_test.go, awareness_test.go, queue_test.go).
describe("memberlist test vectors", () => {
  it("suspicion timeout scales with log10 N", () => {
    const cases: Array<[number, number]> = [
      [5, 1000],
      [10, 1000],
      [50, 1698],
      [100, 2000],
      [500, 2698],
      [1000, 3000],
    ];
    for (const [n, expected] of cases) {
      expect(Math.abs(suspicionTimeout(3, n, 1000) / 3 - expected)).toBeLessThanOrEqual(1);
    }
  });

  it("retransmit limit is mult × ceil(log10(N+1))", () => {
    expect(retransmitLimit(3, 0)).toBe(0);
    expect(retransmitLimit(3, 1)).toBe(3);
    expect(retransmitLimit(3, 99)).toBe(6);
  });

  it("push-pull interval is scaled ×1/×2/×3 for N ≤ 32/64/128", () => {
    const base = 1000;
    for (let n = 0; n <= 32; n++) expect(pushPullScale(base, n)).toBe(base);
    for (let n = 33; n <= 64; n++) expect(pushPullScale(base, n)).toBe(2 * base);
    for (let n = 65; n <= 128; n++) expect(pushPullScale(base, n)).toBe(3 * base);
  });

  it("remaining suspicion time shrinks with confirmations", () => {
    const min = 2000;
    const max = 30000;
    expect(remainingSuspicionTime(0, 3, 0, min, max)).toBe(30000);
    expect(remainingSuspicionTime(1, 3, 2000, min, max)).toBe(14000);
    expect(remainingSuspicionTime(2, 3, 3000, min, max)).toBeCloseTo(4810, -1);
    expect(remainingSuspicionTime(3, 3, 4000, min, max)).toBe(-2000);
    expect(remainingSuspicionTime(4, 3, 5000, min, max)).toBe(-3000);
    expect(remainingSuspicionTime(5, 3, 10000, min, max)).toBe(-8000);
  });

  it("suspicion timer fires at 2 s / 1250 / 810 / 500 ms for 0–3 confirmations, duplicates ignored", () => {
    const cases: Array<{ confirmations: string[]; expected: number }> = [
      { confirmations: [], expected: 2000 },
      { confirmations: ["bar"], expected: 1250 },
      { confirmations: ["bar", "bar"], expected: 1250 },
      { confirmations: ["bar", "baz"], expected: 810 },
      { confirmations: ["bar", "baz", "foo"], expected: 810 }, // "foo" is the accuser: no confirmation
      { confirmations: ["bar", "baz", "zoo"], expected: 500 },
      { confirmations: ["bar", "baz", "zoo", "zap"], expected: 500 },
    ];
    for (const c of cases) {
      const clock = new FakeClock();
      let firedAt = -1;
      let confirmationsSeen = -1;
      const s = new Suspicion(clock, "foo", 3, 500, 2000, (n) => {
        firedAt = clock.now();
        confirmationsSeen = n;
      });
      clock.advance(25);
      for (const from of c.confirmations) s.confirm(from);
      clock.advance(3000);
      expect(Math.abs(firedAt - c.expected)).toBeLessThanOrEqual(2);
      const independent = new Set(c.confirmations.filter((f) => f !== "foo")).size;
      expect(confirmationsSeen).toBe(Math.min(3, independent));
    }
  });

  it("suspicion with k = 0 fires at the minimum", () => {
    const clock = new FakeClock();
    let firedAt = -1;
    new Suspicion(clock, "foo", 0, 25, 30000, () => (firedAt = clock.now()));
    clock.advance(1000);
    expect(firedAt).toBe(25);
  });

  it("awareness scales timeouts and clamps to [0, max-1]", () => {
    const a = new Awareness(8);
    const steps: Array<[number, number, number]> = [
      [0, 0, 1000],
      [-1, 0, 1000],
      [-10, 0, 1000],
      [1, 1, 2000],
      [-1, 0, 1000],
      [10, 7, 8000],
      [-1, 6, 7000],
      [-1, 5, 6000],
      [-1, 4, 5000],
      [-1, 3, 4000],
      [-1, 2, 3000],
      [-1, 1, 2000],
      [-1, 0, 1000],
      [-1, 0, 1000],
    ];
    for (const [delta, score, timeout] of steps) {
      a.applyDelta(delta);
      expect(a.getHealthScore()).toBe(score);
      expect(a.scaleTimeout(1000)).toBe(timeout);
    }
  });

  it("broadcast queue: least transmitted first, newer replaces older, transmit limit", () => {
    const n = 10;
    const q = new BroadcastQueue(1, () => n); // limit = ceil(log10(11)) = 2
    const bytes = (s: string) => new TextEncoder().encode(s);
    q.queue("a", bytes("a1"));
    q.queue("b", bytes("b1"));
    q.queue("a", bytes("a2")); // replaces a1
    expect(q.length).toBe(2);
    const first = q.take(0, 1000).map((m) => new TextDecoder().decode(m));
    expect(first).toEqual(["a2", "b1"]); // newest first among equals
    q.queue("c", bytes("c1"));
    const second = q.take(0, 3).map((m) => new TextDecoder().decode(m));
    expect(second).toEqual(["c1"]); // least transmitted first, size limit respected
    const third = q.take(0, 2).map((m) => new TextDecoder().decode(m));
    expect(third).toEqual(["c1"]); // a2, b1 and c1 all at one transmit: the newest first
    expect(q.length).toBe(2); // c1 reached the limit of 2 and was dropped
    q.queue("a", bytes("a3"));
    expect(q.take(0, 1000)).toHaveLength(2);
    expect(q.length).toBe(1); // b1 done; a3 sent once
  });
});
