import { describe, expect, it } from "vitest";
import { OpenBudget } from "../../../src/cluster/membership/open-budget.js";
import { FakeClock } from "../../../src/util/clock.js";

describe("OpenBudget: packets that fail to open, per source address", () => {
  it("past the budget an address's packets are not opened until its window ends", () => {
    const clock = new FakeClock();
    const budget = new OpenBudget({ clock, memberAddresses: () => [], maxFailures: 3, windowMs: 10_000 });
    for (let i = 0; i < 3; i++) {
      expect(budget.allows("10.0.0.9", `10.0.0.9:${4000 + i}`)).toBe(true);
      budget.failed("10.0.0.9");
    }
    expect(budget.allows("10.0.0.9", "10.0.0.9:5000")).toBe(false); // any port of that address
    expect(budget.allows("10.0.0.8", "10.0.0.8:5000")).toBe(true); // other addresses are not charged
    clock.advance(10_000);
    expect(budget.allows("10.0.0.9", "10.0.0.9:5000")).toBe(true);
  });

  it("a member's own gossip address is always opened, so spoofing its IP cannot silence it", () => {
    const clock = new FakeClock();
    const members = ["10.0.0.9:7946"];
    const budget = new OpenBudget({ clock, memberAddresses: () => members, maxFailures: 1 });
    budget.failed("10.0.0.9");
    budget.failed("10.0.0.9");
    expect(budget.allows("10.0.0.9", "10.0.0.9:7946")).toBe(true);
    expect(budget.allows("10.0.0.9", "10.0.0.9:7947")).toBe(false);
    // Membership is read again at most once a second.
    members.push("10.0.0.9:7947");
    expect(budget.allows("10.0.0.9", "10.0.0.9:7947")).toBe(false);
    clock.advance(1_000);
    expect(budget.allows("10.0.0.9", "10.0.0.9:7947")).toBe(true);
  });

  it("remembers a bounded number of addresses", () => {
    const clock = new FakeClock();
    const budget = new OpenBudget({ clock, memberAddresses: () => [], maxFailures: 1, maxSources: 2 });
    for (const ip of ["a", "b", "c"]) budget.failed(ip);
    expect(budget.allows("a", "a:1")).toBe(true); // forgotten: the oldest
    expect(budget.allows("c", "c:1")).toBe(false);
  });
});
