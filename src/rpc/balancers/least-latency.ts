/**
 * The default strategy: power of two choices over CallStats.score (peak-EWMA latency of the
 * endpoint × (in flight on the node + 1)). Two random candidates, keep the better: nearly the
 * load spread of "always the best" without the herd that sends every caller to the same node
 * at once, and O(1) per pick. With two candidates it is the better of the two; fairness then
 * comes from the score itself: in-flight calls weigh on the busy node, and estimates decay
 * between samples, so an idle node (or one slow once) wins again within seconds.
 */
import { randomInt, type Random } from "../../util/random.js";
import type { CallStats } from "./call-stats.js";
import type { BalanceContext, Balancer, Candidate } from "./types.js";

export class LeastLatencyBalancer implements Balancer {
  constructor(
    private readonly stats: CallStats,
    private readonly random: Random,
  ) {}

  pick(candidates: readonly Candidate[], ctx: BalanceContext): Candidate | undefined {
    const n = candidates.length;
    if (n === 0) return undefined;
    if (n === 1) return candidates[0];
    let a: Candidate;
    let b: Candidate;
    if (n === 2) {
      a = candidates[0]!;
      b = candidates[1]!;
    } else {
      const i = randomInt(this.random, n);
      // Second index drawn from the other n-1 slots: always distinct from the first.
      const j = (i + 1 + randomInt(this.random, n - 1)) % n;
      a = candidates[i]!;
      b = candidates[j]!;
    }
    const now = this.stats.now();
    const sa = this.stats.score(a.nodeId, ctx.service, ctx.method, now);
    const sb = this.stats.score(b.nodeId, ctx.service, ctx.method, now);
    if (sa < sb) return a;
    if (sb < sa) return b;
    return this.random.next() < 0.5 ? a : b;
  }
}
