import { describe, expect, it } from "vitest";
import pino from "pino";
import { Writable } from "node:stream";
import { P2PError, toP2PError, isErrorCode } from "../../src/errors.js";
import { nestsDeeperThan } from "../../src/api/json-body.js";
import { BadInputLog } from "../../src/api/bad-input-log.js";
import { InflightTracker } from "../../src/util/inflight.js";
import { FakeClock } from "../../src/util/clock.js";

function capturingLogger(): { logger: pino.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level: "info" }, stream), lines };
}

describe("error codes are own properties of the catalog", () => {
  it("names of Object.prototype are not codes", () => {
    for (const name of ["toString", "constructor", "__proto__", "hasOwnProperty", "valueOf"]) {
      expect(isErrorCode(name)).toBe(false);
      expect(new P2PError(name as never, "x").code).toBe("INTERNAL");
      expect(new P2PError(name as never, "x").status).toBe(500);
      expect(toP2PError(Object.assign(new Error("m"), { code: name })).code).toBe("INTERNAL");
      expect(P2PError.fromWire({ code: name, message: "m" }).code).toBe("INTERNAL");
    }
    expect(isErrorCode("TIMEOUT")).toBe(true);
  });
});

describe("nestsDeeperThan", () => {
  it("measures objects and arrays without recursion", () => {
    const deep = JSON.parse("[".repeat(200_000) + "]".repeat(200_000)) as unknown;
    expect(nestsDeeperThan(deep, 64)).toBe(true);
    expect(nestsDeeperThan({ a: [{ b: [1, 2, { c: null }] }] }, 5)).toBe(false);
    expect(nestsDeeperThan({ a: [{ b: [1, 2, { c: {} }] }] }, 5)).toBe(true);
    expect(nestsDeeperThan("text", 0)).toBe(false);
  });
});

describe("BadInputLog", () => {
  it("logs the first bad request of a source, then one line with the count per interval", async () => {
    const clock = new FakeClock();
    const { logger, lines } = capturingLogger();
    const log = new BadInputLog({ logger, clock, intervalMs: 10_000 });
    log.start();
    for (let i = 0; i < 5_000; i++) log.note("10.0.0.1", i % 2 ? "400 POST /rpc" : "401 POST /auth/token");
    log.note("10.0.0.2", "400 POST /rpc");
    clock.advance(10_000);
    log.stop();
    await new Promise((r) => setImmediate(r));
    const summaries = lines.filter((l) => l.count !== undefined);
    expect(lines.length).toBe(3);
    expect(summaries).toEqual([expect.objectContaining({ source: "10.0.0.1", count: 4_999, kinds: { "400 POST /rpc": 2_500, "401 POST /auth/token": 2_499 } })]);
  });
});

describe("InflightTracker.cut", () => {
  it("answers calls entered with begin() through their cut(), once: end() then says it was answered", async () => {
    const inflight = new InflightTracker();
    const cuts: string[] = [];
    const running = { cut: (err: Error) => cuts.push(`running: ${err.message}`) };
    const answered = { cut: (err: Error) => cuts.push(`answered: ${err.message}`) };
    inflight.begin(running);
    inflight.begin(answered);
    expect(inflight.size).toBe(2);
    expect(inflight.end(answered)).toBe(true);
    expect(inflight.end(answered)).toBe(false);
    inflight.cut(new P2PError("UNAVAILABLE", "shut down"));
    expect(cuts).toEqual(["running: shut down"]);
    expect(inflight.size).toBe(0);
    expect(inflight.end(running)).toBe(false);
    expect(inflight.size).toBe(0);
    expect(await inflight.idle(10)).toBe(true);
  });
});
