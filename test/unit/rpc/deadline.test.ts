import { describe, expect, it } from "vitest";
import { P2PError } from "../../../src/errors.js";
import { FakeClock } from "../../../src/util/clock.js";
import { Deadline, withDeadline } from "../../../src/rpc/deadline.js";
import { deferred, flush } from "./helpers.js";

describe("Deadline", () => {
  it("counts down on the clock and expires at its end", () => {
    const clock = new FakeClock(1000);
    const d = Deadline.after(100, clock);
    expect(d.remaining()).toBe(100);
    expect(d.expired()).toBe(false);
    clock.advance(60);
    expect(d.remaining()).toBe(40);
    clock.advance(40);
    expect(d.expired()).toBe(true);
    clock.advance(10);
    expect(d.remaining()).toBe(0);
  });
});

describe("withDeadline", () => {
  it("passes the result through and leaves no timer behind", async () => {
    const clock = new FakeClock();
    const p = deferred<string>();
    const wrapped = withDeadline(p.promise, Deadline.after(100, clock), clock);
    expect(clock.pending).toBe(1);
    p.resolve("ok");
    await expect(wrapped).resolves.toBe("ok");
    expect(clock.pending).toBe(0);
  });

  it("passes a rejection through and leaves no timer behind", async () => {
    const clock = new FakeClock();
    const p = deferred<string>();
    const wrapped = withDeadline(p.promise, Deadline.after(100, clock), clock);
    p.reject(new P2PError("INTERNAL", "boom"));
    await expect(wrapped).rejects.toMatchObject({ code: "INTERNAL", message: "boom" });
    expect(clock.pending).toBe(0);
  });

  it("rejects with TIMEOUT naming the budget when the deadline passes first", async () => {
    const clock = new FakeClock();
    const p = deferred<string>();
    const wrapped = withDeadline(p.promise, Deadline.after(250, clock), clock);
    const outcome = wrapped.catch((e: unknown) => e);
    clock.advance(249);
    await flush();
    clock.advance(1);
    const err = (await outcome) as P2PError;
    expect(err).toBeInstanceOf(P2PError);
    expect(err.code).toBe("TIMEOUT");
    expect(err.message).toBe("deadline of 250 ms exceeded");
    expect(err.data).toMatchObject({ reason: "deadline_exceeded" });
    p.resolve("too late"); // settling afterwards is harmless
    await flush();
  });

  it("rejects at once when the deadline has already passed", async () => {
    const clock = new FakeClock();
    const d = Deadline.after(10, clock);
    clock.advance(10);
    const p = deferred<string>();
    await expect(withDeadline(p.promise, d, clock)).rejects.toMatchObject({ code: "TIMEOUT" });
    p.reject(new Error("late failure is swallowed"));
    await flush();
    expect(clock.pending).toBe(0);
  });
});
