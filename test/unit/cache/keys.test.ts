import { describe, expect, it } from "vitest";
import { canonicalJson, isInvalidationSelector, methodCacheKey, selectorMatches } from "../../../src/cache/cache.js";
import { parseClusterNodes, isClusterTarget, escapeGlob } from "../../../src/cache/redis-client.js";
import { decodeEntry, encodeEntry } from "../../../src/cache/redis.js";

describe("cache keys", () => {
  it("canonical JSON does not depend on object key order, at any depth", () => {
    const a = { b: 1, a: { y: [1, { q: 1, p: 2 }], x: null } };
    const b = { a: { x: null, y: [1, { p: 2, q: 1 }] }, b: 1 };
    expect(canonicalJson(a)).toBe(canonicalJson(b));
    expect(canonicalJson(a)).toBe('{"a":{"x":null,"y":[1,{"p":2,"q":1}]},"b":1}');
  });

  it("arrays keep their order", () => {
    expect(canonicalJson([1, 2])).not.toBe(canonicalJson([2, 1]));
  });

  it("drops undefined members like JSON.stringify does", () => {
    expect(canonicalJson({ a: 1, b: undefined })).toBe(canonicalJson({ a: 1 }));
  });

  it("method keys are m:<service>:<method>:<sha1> and equal for reordered params", () => {
    const k1 = methodCacheKey("math", "add", { a: 1, b: 2 });
    const k2 = methodCacheKey("math", "add", { b: 2, a: 1 });
    expect(k1).toBe(k2);
    expect(k1).toMatch(/^m:math:add:[0-9a-f]{40}$/);
    expect(methodCacheKey("math", "add", { a: 1, b: 3 })).not.toBe(k1);
    expect(methodCacheKey("math", "add", undefined)).toBe(methodCacheKey("math", "add", {}));
  });

  it("selectors match by prefix, tag or exact key", () => {
    const key = methodCacheKey("math", "add", { a: 1 });
    expect(selectorMatches({ service: "math" }, key, undefined)).toBe(true);
    expect(selectorMatches({ service: "math", method: "add" }, key, undefined)).toBe(true);
    expect(selectorMatches({ service: "math", method: "ad" }, key, undefined)).toBe(false);
    expect(selectorMatches({ service: "mat" }, key, undefined)).toBe(false);
    expect(selectorMatches({ service: "math" }, "s:math:mine", undefined)).toBe(true);
    expect(selectorMatches({ service: "math", method: "add" }, "s:math:mine", undefined)).toBe(false);
    expect(selectorMatches({ tag: "t" }, key, ["u", "t"])).toBe(true);
    expect(selectorMatches({ tag: "t" }, key, undefined)).toBe(false);
    expect(selectorMatches({ key }, key, undefined)).toBe(true);
  });

  it("validates selectors from the wire", () => {
    expect(isInvalidationSelector({ service: "a" })).toBe(true);
    expect(isInvalidationSelector({ service: "a", method: "b" })).toBe(true);
    expect(isInvalidationSelector({ tag: "x" })).toBe(true);
    expect(isInvalidationSelector({ service: "a:b" })).toBe(false);
    expect(isInvalidationSelector({ service: "" })).toBe(false);
    expect(isInvalidationSelector({ service: "a", method: 3 })).toBe(false);
    expect(isInvalidationSelector(null)).toBe(false);
  });

  it("the L2 entry format round-trips values and tags", () => {
    expect(decodeEntry(encodeEntry({ json: '{"a":"x\\ny"}' }))).toEqual({ json: '{"a":"x\\ny"}' });
    expect(decodeEntry(encodeEntry({ json: "1", tags: ["t1", "t2"] }))).toEqual({ json: "1", tags: ["t1", "t2"] });
    expect(decodeEntry("garbage")).toBeUndefined();
  });
});

describe("Redis targets", () => {
  it("recognises cluster URLs and lists", () => {
    expect(isClusterTarget("redis://h:1")).toBe(false);
    expect(isClusterTarget("redis+cluster://h1:1,h2:2")).toBe(true);
    expect(isClusterTarget(["h1:1"])).toBe(true);
  });

  it("parses cluster nodes with credentials", () => {
    expect(parseClusterNodes("redis+cluster://u:p%40ss@h1:7000,h2:7001")).toEqual({
      nodes: [
        { host: "h1", port: 7000 },
        { host: "h2", port: 7001 },
      ],
      username: "u",
      password: "p@ss",
      tls: false,
    });
    expect(parseClusterNodes(["redis://a:1", "b"]).nodes).toEqual([
      { host: "a", port: 1 },
      { host: "b", port: 6379 },
    ]);
    expect(() => parseClusterNodes("redis+cluster://h1:99999")).toThrow(/bad Redis node/);
  });

  it("escapes glob characters for SCAN MATCH", () => {
    expect(escapeGlob("p2p:a*b?[c]\\")).toBe("p2p:a\\*b\\?\\[c\\]\\\\");
  });
});
