import { describe, expect, it } from "vitest";
import { LruMap } from "../../../src/util/lru-map.js";

describe("LruMap", () => {
  it("holds at most max keys and drops the least recently used one (get counts as a use)", () => {
    const removed: string[] = [];
    const map = new LruMap<string, number>(3, (value, key) => removed.push(`${key}=${value}`));
    map.set("a", 1).set("b", 2).set("c", 3);
    expect(map.get("a")).toBe(1); // a is now the most recent: b is the oldest
    map.set("d", 4);
    expect(map.size).toBe(3);
    expect(map.has("b")).toBe(false);
    expect(removed).toEqual(["b=2"]);
    expect(map.entries()).toEqual([["d", 4], ["a", 1], ["c", 3]]);
  });

  it("tells onRemove of a delete and of a replaced value, not of a value set again", () => {
    const removed: string[] = [];
    const map = new LruMap<string, { n: number }>(10, (value, key) => removed.push(`${key}=${value.n}`));
    const one = { n: 1 };
    map.set("a", one);
    map.set("a", one);
    expect(removed).toEqual([]);
    map.set("a", { n: 2 });
    expect(removed).toEqual(["a=1"]);
    expect(map.delete("a")).toBe(true);
    expect(map.delete("a")).toBe(false);
    expect(removed).toEqual(["a=1", "a=2"]);
    expect(map.get("a")).toBeUndefined();
  });

  it("entries() is a copy: deleting while walking it visits every entry once", () => {
    const map = new LruMap<number, number>(100);
    for (let i = 0; i < 50; i++) map.set(i, i);
    let seen = 0;
    for (const [key] of map.entries()) {
      seen++;
      map.delete(key);
    }
    expect(seen).toBe(50);
    expect(map.size).toBe(0);
  });

  it("refuses a capacity below one", () => {
    expect(() => new LruMap(0)).toThrow(RangeError);
  });
});
