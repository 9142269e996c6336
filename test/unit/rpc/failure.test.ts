import { describe, expect, it } from "vitest";
import { P2PError } from "../../../src/errors.js";
import { FakeClock } from "../../../src/util/clock.js";
import { isLocalRejection, isNodeFault, normalizeAttemptError } from "../../../src/rpc/failure.js";
import { BreakerSet } from "../../../src/rpc/circuit-breaker.js";
import { Deadline } from "../../../src/rpc/deadline.js";
import { shouldRetry } from "../../../src/rpc/retry.js";

const sysErr = (code: string) => Object.assign(new Error(`socket ${code}`), { code });

describe("failure classes", () => {
  it("a refused connection was not sent: retried for any method", () => {
    const err = normalizeAttemptError(sysErr("ECONNREFUSED"), "n1");
    expect(err).toMatchObject({ code: "UNAVAILABLE", data: { reason: "not_sent", node: "n1" } });
    expect(isNodeFault(err)).toBe(true);
    expect(shouldRetry(err, false)).toBe(true);
  });

  it("a reset connection may have run: retried only for idempotent methods", () => {
    const err = normalizeAttemptError(sysErr("ECONNRESET"), "n1");
    expect(err).toMatchObject({ code: "UNAVAILABLE", data: { reason: "connection_lost" } });
    expect(shouldRetry(err, false)).toBe(false);
    expect(shouldRetry(err, true)).toBe(true);
  });

  it("anything else thrown becomes INTERNAL, an answer rather than a node fault", () => {
    const err = normalizeAttemptError(new RangeError("bad"), "n1");
    expect(err).toMatchObject({ code: "INTERNAL", message: "bad" });
    expect(isNodeFault(err)).toBe(false);
    const same = new P2PError("FORBIDDEN", "no");
    expect(normalizeAttemptError(same, "n1")).toBe(same);
  });

  it("local refusals are neither node faults nor answers", () => {
    const clock = new FakeClock();
    const open = new BreakerSet(clock).openError("n1");
    const queued = Deadline.after(0, clock).timeoutError({ queued: true });
    for (const err of [open, queued, new P2PError("UNAVAILABLE", "full", { reason: "bulkhead_full" })]) {
      expect(isLocalRejection(err)).toBe(true);
      expect(isNodeFault(err)).toBe(false);
    }
    expect(shouldRetry(open, false)).toBe(true);
  });

  it("a huge or invalid deadline is clamped, never a timer that fires at once", () => {
    const clock = new FakeClock();
    expect(Deadline.after(Number.POSITIVE_INFINITY, clock).remaining()).toBe(2 ** 31 - 1);
    expect(Deadline.after(Number.NaN, clock).expired()).toBe(true);
  });
});
