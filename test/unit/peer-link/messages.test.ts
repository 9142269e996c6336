import { describe, expect, it } from "vitest";
import type { LinkCall } from "../../../src/transport/peer-link/index.js";
import { answerBound, answerText, FRAME, FRAME_HEAD, frameId, parseRequest, requestBound, writeAnswer, writeCancel, writeRequest } from "../../../src/transport/peer-link/messages.js";

const call: LinkCall = {
  service: "grüße",
  method: "añadir",
  params: { text: "日本語 ✓", n: [1, 2, { deep: null }] },
  caller: { sub: "user-é", role: "client" },
  timeoutMs: 1234,
  traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
};

function encode(c: LinkCall, id: number, json = JSON.stringify(c.params)): Buffer {
  const buf = Buffer.alloc(requestBound(c, json) + 3, 0xee);
  const end = writeRequest(buf, 3, id, c, c.timeoutMs, json);
  expect(end).toBeGreaterThan(3);
  return buf.subarray(3, end);
}

/** The frame's kind and body bounds, checking the length field. */
function frameOf(frame: Buffer): { kind: number; start: number; end: number } {
  expect(frame.readUInt32BE(0)).toBe(frame.length - 4);
  return { kind: frame[4]!, start: FRAME_HEAD, end: frame.length };
}

describe("peer link frames (binary envelope)", () => {
  it("a request round-trips with UTF-8 names, params, caller, budget and traceparent; ids up to 2^53 - 1", () => {
    for (const id of [1, 2 ** 32 + 5, Number.MAX_SAFE_INTEGER]) {
      const frame = encode(call, id);
      const { kind, start, end } = frameOf(frame);
      expect(kind).toBe(FRAME.request);
      expect(parseRequest(frame, start, end)).toEqual({ id, call });
    }
    const { traceparent: _, ...untraced } = call;
    const frame = encode(untraced, 9);
    const parsed = parseRequest(frame, FRAME_HEAD, frame.length);
    expect(parsed).toEqual({ id: 9, call: untraced });
  });

  it("answers and cancels round-trip; an empty result is undefined", () => {
    for (const json of ['{"ok":true}', undefined, '"ü"']) {
      const buf = Buffer.alloc(answerBound(json));
      const end = writeAnswer(buf, 0, FRAME.result, 42, json);
      const { kind, start } = frameOf(buf.subarray(0, end));
      expect(kind).toBe(FRAME.result);
      expect(frameId(buf, start, end)).toBe(42);
      expect(answerText(buf, start, end)).toBe(json);
    }
    const buf = Buffer.alloc(64);
    const end = writeCancel(buf, 0, 2 ** 40);
    expect(frameId(buf, FRAME_HEAD, end)).toBe(2 ** 40);
  });

  it("malformed requests name a reason, with the id when it can be read", () => {
    const good = encode(call, 7);
    const body = (b: Buffer) => parseRequest(b, FRAME_HEAD, b.length);
    expect(body(good.subarray(0, FRAME_HEAD + 4))).toEqual({ id: null, reason: "request too short" });
    expect(body(good.subarray(0, FRAME_HEAD + 20))).toMatchObject({ id: 7, reason: "request shorter than its fields" });
    const mutate = (at: number, value: number) => {
      const copy = Buffer.from(good);
      copy[FRAME_HEAD + at] = value;
      return body(copy);
    };
    expect(mutate(12, 9)).toMatchObject({ id: 7, reason: "caller must be {sub, role}" });
    expect(mutate(0, 0xff)).toMatchObject({ id: null }); // id beyond 2^53
    const zeroTimeout = Buffer.from(good);
    zeroTimeout.writeUInt32BE(0, FRAME_HEAD + 8);
    expect(body(zeroTimeout)).toMatchObject({ id: 7, reason: "timeout must be a positive number" });
    for (const json of ["[1]", "null", "3", "{broken"]) {
      expect(body(encode(call, 7, json))).toMatchObject({ id: 7, reason: "params must be an object" });
    }
    const noService = { ...call, service: "" };
    expect(body(encode(noService, 7))).toMatchObject({ id: 7, reason: "service must be a string" });
  });

  it("names longer than their u16 length field are refused at encoding", () => {
    const long = { ...call, service: "s".repeat(70_000) };
    const json = JSON.stringify(long.params);
    expect(writeRequest(Buffer.alloc(requestBound(long, json)), 0, 1, long, 100, json)).toBe(-1);
  });
});
