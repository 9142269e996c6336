import { describe, expect, it } from "vitest";
import { FakeClock } from "../../src/util/clock.js";
import { Deadline } from "../../src/rpc/deadline.js";
import { LINGER_MS, LocalLimiter } from "../../src/rpc/local-limiter.js";
import { P2PError } from "../../src/errors.js";

const settle = <T>(p: Promise<T>) => p.then((v) => ({ ok: true as const, v }), (e: unknown) => ({ ok: false as const, e: e as P2PError }));
const tick = () => new Promise((r) => setImmediate(r));

describe("LocalLimiter", () => {
  it("runs up to the cap, queues up to the queue size, refuses the rest with 503 bulkhead_full", async () => {
    const clock = new FakeClock();
    const limiter = new LocalLimiter({ maxRunning: 2, maxQueued: 4 }, clock);
    const deadline = Deadline.after(60_000, clock);
    // Two methods, so that neither hits its half share first.
    const keys = ["a.x", "b.y", "a.x", "b.y", "a.x", "b.y", "a.x"];
    const results = keys.map((k) => settle(limiter.acquire(k, deadline)));
    await tick();
    expect(limiter.active).toBe(2);
    expect(limiter.queued).toBe(4);
    const refused = await results[6]!;
    expect(refused.ok).toBe(false);
    expect(refused.ok ? null : refused.e).toMatchObject({ code: "UNAVAILABLE", data: { reason: "bulkhead_full" } });
    const first = await results[0]!;
    if (!first.ok) throw new Error("first call refused");
    first.v();
    first.v(); // idempotent
    await tick();
    expect(limiter.active).toBe(2);
    expect(limiter.queued).toBe(3);
  });

  it("one method holds at most half the slots and half the queue", async () => {
    const clock = new FakeClock();
    const limiter = new LocalLimiter({ maxRunning: 4, maxQueued: 4 }, clock);
    const deadline = Deadline.after(60_000, clock);
    const flood = Array.from({ length: 10 }, () => settle(limiter.acquire("slow.m", deadline)));
    await tick();
    expect(limiter.active).toBe(2);
    expect(limiter.queued).toBe(2);
    expect((await Promise.all(flood.slice(4))).every((r) => !r.ok)).toBe(true);
    const other = await settle(limiter.acquire("fast.m", deadline));
    expect(other.ok).toBe(true);
  });

  it("a queued call times out at its deadline; a slot is freed at the latest LINGER_MS after the deadline", async () => {
    const clock = new FakeClock();
    const limiter = new LocalLimiter({ maxRunning: 1, maxQueued: 2 }, clock);
    const held = await limiter.acquire("a.x", Deadline.after(1_000, clock));
    const waiting = settle(limiter.acquire("b.y", Deadline.after(500, clock)));
    clock.advance(500);
    expect(await waiting).toMatchObject({ ok: false, e: { code: "TIMEOUT" } });
    expect(limiter.queued).toBe(0);
    const later = settle(limiter.acquire("b.y", Deadline.after(60_000, clock)));
    clock.advance(1_000 + LINGER_MS - 500);
    expect((await later).ok).toBe(true);
    held(); // late release of a slot already reclaimed changes nothing
    expect(limiter.active).toBe(1);
  });
});
