/** Round robin with one cursor per service, so a busy service does not skew a quiet one. */
import type { BalanceContext, Balancer, Candidate } from "./types.js";

export class RoundRobinBalancer implements Balancer {
  private readonly cursors = new Map<string, number>();

  pick(candidates: readonly Candidate[], ctx: BalanceContext): Candidate | undefined {
    const n = candidates.length;
    if (n === 0) return undefined;
    if (n === 1) return candidates[0];
    const cursor = this.cursors.get(ctx.service) ?? 0;
    // Wrap well below 2^53 so the counter never loses precision.
    this.cursors.set(ctx.service, cursor >= 1e9 ? 0 : cursor + 1);
    return candidates[cursor % n];
  }
}
