import { describe, expect, it } from "vitest";
import { P2PError, type ErrorCode } from "../../../src/errors.js";
import { FakeClock } from "../../../src/util/clock.js";
import { classify, normalizeAttemptError, shouldRetry } from "../../../src/rpc/classify.js";
import { BreakerSet } from "../../../src/rpc/circuit-breaker.js";
import { Deadline } from "../../../src/rpc/deadline.js";
import { DEFAULT_MAX_ATTEMPTS } from "../../../src/rpc/pipeline.js";

const sysErr = (code: string) => Object.assign(new Error(`socket ${code}`), { code });
const err = (code: ErrorCode, reason?: string) => new P2PError(code, "x", reason === undefined ? undefined : { reason });

describe("classify", () => {
  it("any TIMEOUT but the pipeline's own attempt cap is the caller's deadline: no fault, no retry, no sample", () => {
    const clock = new FakeClock();
    for (const e of [err("TIMEOUT"), err("TIMEOUT", "deadline_exceeded"), Deadline.after(0, clock).timeoutError(), new P2PError("TIMEOUT", "t", { nested_reason: "deadline_exceeded" })]) {
      expect(classify(e)).toMatchObject({ kind: "deadline_exceeded", nodeFault: false, endpointFault: false, retry: "never", sample: "none" });
      expect(shouldRetry(e, true)).toBe(false);
    }
    expect(classify(err("TIMEOUT", "attempt_timeout"))).toMatchObject({ kind: "slow", nodeFault: false, endpointFault: true, retry: "idempotent" });
  });

  it("a refused connection was not sent: a node fault, retried for any method", () => {
    const e = normalizeAttemptError(sysErr("ECONNREFUSED"), "n1");
    expect(e).toMatchObject({ code: "UNAVAILABLE", data: { reason: "not_sent", node: "n1" } });
    expect(classify(e)).toMatchObject({ kind: "unreachable", nodeFault: true, notRun: true });
    expect(shouldRetry(e, false)).toBe(true);
  });

  it("a reset connection may have run: a node fault, retried only for idempotent methods", () => {
    const e = normalizeAttemptError(sysErr("ECONNRESET"), "n1");
    expect(e).toMatchObject({ code: "UNAVAILABLE", data: { reason: "connection_lost" } });
    expect(classify(e)).toMatchObject({ kind: "unreachable", nodeFault: true, notRun: false });
    expect(shouldRetry(e, false)).toBe(false);
    expect(shouldRetry(e, true)).toBe(true);
  });

  it("answers of the method prove the node up and are never retried", () => {
    for (const code of ["INVALID_PARAMS", "FORBIDDEN", "INTERNAL", "NOT_FOUND", "BAD_REQUEST", "RATE_LIMITED"] as const) {
      expect(classify(err(code))).toMatchObject({ kind: "answered", nodeFault: false, endpointFault: false, sample: "elapsed" });
      expect(shouldRetry(err(code), true)).toBe(false);
    }
    const e = normalizeAttemptError(new RangeError("bad"), "n1");
    expect(e).toMatchObject({ code: "INTERNAL", message: "bad" });
    const same = new P2PError("FORBIDDEN", "no");
    expect(normalizeAttemptError(same, "n1")).toBe(same);
  });

  it("an UNAVAILABLE answered by the method counts against that endpoint only", () => {
    expect(classify(err("UNAVAILABLE"))).toMatchObject({ kind: "unavailable", nodeFault: false, endpointFault: true, retry: "never" });
    expect(shouldRetry(err("UNAVAILABLE", "no_healthy_node"), true)).toBe(false);
  });

  it("local refusals and draining targets prove nothing, and did not run: retried anywhere", () => {
    const clock = new FakeClock();
    const open = new BreakerSet(clock).openError("n1");
    const queued = Deadline.after(0, clock).timeoutError({ queued: true });
    for (const e of [open, queued, err("UNAVAILABLE", "bulkhead_full"), err("UNAVAILABLE", "draining")]) {
      expect(classify(e)).toMatchObject({ nodeFault: false, endpointFault: false, notRun: true, retry: "always", sample: "none" });
    }
    for (const reason of ["not_sent", "node_left", "bulkhead_full", "circuit_open", "draining"]) {
      expect(shouldRetry(err("UNAVAILABLE", reason), false)).toBe(true);
    }
  });

  it("a huge or invalid deadline is clamped, never a timer that fires at once; three attempts by default", () => {
    const clock = new FakeClock();
    expect(Deadline.after(Number.POSITIVE_INFINITY, clock).remaining()).toBe(2 ** 31 - 1);
    expect(Deadline.after(Number.NaN, clock).expired()).toBe(true);
    expect(DEFAULT_MAX_ATTEMPTS).toBe(3);
  });
});
