import { describe, expect, it } from "vitest";
import { ProbeOrder } from "../../../src/cluster/membership/probe-order.js";
import { SeededRandom, randomInt } from "../../../src/util/random.js";

describe("ProbeOrder", () => {
  it("inserts and reads by index exactly like an array's splice, across chunk splits", () => {
    const random = new SeededRandom(7);
    const order = new ProbeOrder();
    const array: string[] = [];
    for (let i = 0; i < 3_000; i++) {
      const at = randomInt(random, array.length + 1);
      order.insert(at, `m${i}`);
      array.splice(at, 0, `m${i}`);
      if (i % 97 === 0) {
        const j = randomInt(random, array.length);
        expect(order.at(j)).toBe(array[j]);
      }
    }
    expect(order.length).toBe(array.length);
    expect(order.toArray()).toEqual(array);
    for (let j = 0; j < array.length; j += 13) expect(order.at(j)).toBe(array[j]);
    expect(order.at(array.length)).toBeUndefined();
  });

  it("starts from a list, and inserts at both ends", () => {
    const names = Array.from({ length: 600 }, (_, i) => `n${i}`);
    const order = new ProbeOrder(names);
    order.insert(0, "first");
    order.insert(order.length, "last");
    expect(order.toArray()).toEqual(["first", ...names, "last"]);
    expect(new ProbeOrder().toArray()).toEqual([]);
  });
});
