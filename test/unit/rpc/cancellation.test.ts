import { describe, expect, it } from "vitest";
import { Cancellation } from "../../../src/rpc/cancellation.js";

describe("Cancellation", () => {
  it("fires each listener once, in the order added, skipping the unsubscribed ones", () => {
    const c = new Cancellation();
    const seen: string[] = [];
    const listener = (name: string) => (reason: unknown) => seen.push(`${name}:${String(reason)}`);
    const offA = c.onCancel(listener("a"));
    c.onCancel(listener("b"));
    const offC = c.onCancel(listener("c"));
    offA();
    offC();
    c.onCancel(listener("d"));
    const twice = listener("e");
    c.onCancel(twice);
    c.onCancel(twice);
    c.cancel("why");
    c.cancel("again");
    expect(seen).toEqual(["b:why", "d:why", "e:why", "e:why"]);
    expect(c.cancelled).toBe(true);
    expect(c.reason).toBe("why");
  });

  it("the only listener, unsubscribed, is not called; one added later is, and after firing at once", () => {
    const c = new Cancellation();
    const seen: string[] = [];
    const off = c.onCancel(() => seen.push("first"));
    off();
    c.onCancel(() => seen.push("second"));
    const same = () => seen.push("same");
    const offSame = c.onCancel(same);
    c.onCancel(same);
    offSame();
    c.cancel(1);
    c.onCancel((reason) => seen.push(`late:${String(reason)}`));
    expect(seen).toEqual(["second", "same", "late:1"]);
  });
});
