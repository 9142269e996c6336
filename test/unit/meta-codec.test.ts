import { deflateRawSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { decodeMeta, encodeMeta, isValidMeta } from "../../src/cluster/meta-codec.js";
import type { NodeMeta } from "../../src/cluster/types.js";

const good: NodeMeta = {
  role: "worker",
  version: "1.0.0",
  started_at: 1_700_000_000_000,
  services: [{ name: "svc", version: "1", methods: [{ name: "m", public: true, idempotent: false, cache: { ttl_s: 5 } }] }],
  load: { inflight: 3, lag_ms: 1 },
};
const raw = (value: unknown) => deflateRawSync(Buffer.from(JSON.stringify(value)));

describe("member metadata codec", () => {
  it("round-trips what a node announces, keeping fields it does not know", () => {
    const withExtra = { ...good, labels: { zone: "a" }, future_field: [1, 2] };
    expect(decodeMeta(encodeMeta(withExtra as NodeMeta))).toEqual(withExtra);
  });

  it.each([
    ["a null method", { ...good, services: [{ ...good.services[0], methods: [null] }] }],
    ["a method without a name", { ...good, services: [{ ...good.services[0], methods: [{ public: true, idempotent: true }] }] }],
    ["a service named by a number", { ...good, services: [{ name: 7, version: "1", methods: [] }] }],
    ["services not an array", { ...good, services: { length: 1 } }],
    ["load with strings", { ...good, load: { inflight: "lots", lag_ms: 1 } }],
    ["version not a string", { ...good, version: { evil: true } }],
    ["an unknown role", { ...good, role: "king" }],
    ["labels that are not strings", { ...good, labels: { zone: { nested: 1 } } }],
    ["a negative start time", { ...good, started_at: -5 }],
  ])("refuses metadata with %s whole", (_what, value) => {
    expect(decodeMeta(raw(value))).toBeNull();
    expect(isValidMeta(raw(value))).toBe(false);
  });

  it("refuses bytes that are not deflated JSON, and metadata that inflates beyond its bound", () => {
    expect(decodeMeta(new Uint8Array([1, 2, 3]))).toBeNull();
    expect(decodeMeta(deflateRawSync(Buffer.from("not json")))).toBeNull();
    const huge = { ...good, description: "x".repeat(300 * 1024) };
    expect(decodeMeta(raw(huge))).toBeNull();
  });

  it("empty metadata (not announced yet) is acceptable but decodes to null", () => {
    expect(isValidMeta(new Uint8Array())).toBe(true);
    expect(decodeMeta(new Uint8Array())).toBeNull();
  });
});
