import { describe, expect, it } from "vitest";
import { P2PError, type ErrorCode } from "../../../src/errors.js";
import { DEFAULT_MAX_ATTEMPTS, shouldRetry } from "../../../src/rpc/retry.js";

const err = (code: ErrorCode, reason?: string) =>
  new P2PError(code, "x", reason === undefined ? undefined : { reason });

describe("retry policy", () => {
  it("retries any call that provably did not run", () => {
    for (const reason of ["not_sent", "node_left", "bulkhead_full", "circuit_open", "draining"]) {
      expect(shouldRetry(err("UNAVAILABLE", reason), false)).toBe(true);
      expect(shouldRetry(err("UNAVAILABLE", reason), true)).toBe(true);
    }
  });

  it("retries an attempt timeout or a lost connection only for idempotent methods", () => {
    expect(shouldRetry(err("TIMEOUT", "attempt_timeout"), true)).toBe(true);
    expect(shouldRetry(err("TIMEOUT"), true)).toBe(true);
    expect(shouldRetry(err("UNAVAILABLE", "connection_lost"), true)).toBe(true);
    expect(shouldRetry(err("TIMEOUT", "attempt_timeout"), false)).toBe(false);
    expect(shouldRetry(err("UNAVAILABLE", "connection_lost"), false)).toBe(false);
  });

  it("never retries when the whole deadline has passed", () => {
    expect(shouldRetry(err("TIMEOUT", "deadline_exceeded"), true)).toBe(false);
  });

  it("never retries answers of the method or the caller's mistakes", () => {
    const codes: ErrorCode[] = ["INVALID_PARAMS", "FORBIDDEN", "INTERNAL", "NOT_FOUND", "BAD_REQUEST", "RATE_LIMITED"];
    for (const code of codes) {
      expect(shouldRetry(err(code), true)).toBe(false);
      expect(shouldRetry(err(code), false)).toBe(false);
    }
    expect(shouldRetry(err("UNAVAILABLE"), true)).toBe(false);
    expect(shouldRetry(err("UNAVAILABLE", "no_healthy_node"), true)).toBe(false);
  });

  it("tries at most three times by default", () => {
    expect(DEFAULT_MAX_ATTEMPTS).toBe(3);
  });
});
