/** The primitives together under load, on a fake clock: what the router will see. */
import { describe, expect, it } from "vitest";
import { P2PError } from "../../../src/errors.js";
import { FakeClock } from "../../../src/util/clock.js";
import { SeededRandom } from "../../../src/util/random.js";
import type { Candidate } from "../../../src/rpc/balancers/index.js";
import { Deadline } from "../../../src/rpc/deadline.js";
import { callWithResilience, createPipelineDeps } from "../../../src/rpc/pipeline.js";
import { flush } from "./helpers.js";

const LATENCY: Record<string, number> = { fast: 5, medium: 20, slow: 80 };

function simulate(seed: number) {
  const clock = new FakeClock();
  const deps = createPipelineDeps({
    clock,
    random: new SeededRandom(seed),
    breaker: { node: { minCalls: 3, failureRate: 0.5, openMs: 10_000, halfOpenMax: 1 } },
  });
  const candidates: Candidate[] = ["fast", "medium", "slow", "dead"].map((nodeId) => ({ nodeId, local: false }));
  const served: Record<string, number> = { fast: 0, medium: 0, slow: 0, dead: 0 };
  const attempt = (nodeId: string): Promise<string> => {
    served[nodeId]!++;
    if (nodeId === "dead") return Promise.reject(new P2PError("UNAVAILABLE", "refused", { reason: "not_sent" }));
    return new Promise((resolve) => clock.setTimeout(() => resolve(nodeId), LATENCY[nodeId]!));
  };
  return { clock, deps, candidates, served, attempt };
}

describe("pipeline under load", () => {
  it("every call succeeds, most go to the fastest node, and the dead node is cut off", async () => {
    const { clock, deps, candidates, served, attempt } = simulate(7);
    const results: string[] = [];
    let remaining = 600;
    const worker = async () => {
      while (remaining-- > 0) {
        results.push(
          await callWithResilience(deps, {
            service: "svc",
            method: "m",
            candidates,
            deadline: Deadline.after(1000, clock),
            idempotent: false,
            attempt,
          }),
        );
      }
    };
    const all = Promise.all(Array.from({ length: 20 }, worker));
    let done = false;
    void all.then(() => (done = true));
    for (let t = 0; t < 10_000 && !done; t++) {
      clock.advance(1);
      await flush();
    }
    await all;
    expect(results).toHaveLength(600);
    expect(results).not.toContain("dead");
    // Only the first wave (20 concurrent calls, before any refusal came back) reached it.
    expect(served.dead).toBeLessThanOrEqual(20);
    expect(deps.breakers.nodeState("dead")).toBe("open");
    expect(served.fast!).toBeGreaterThan(served.medium!);
    expect(served.medium!).toBeGreaterThan(served.slow!);
    expect(served.fast!).toBeGreaterThan(300);
    expect(deps.stats.expected("fast", "svc", "m")).toBeCloseTo(5, 0);
  });
});
