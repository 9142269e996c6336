/** Uniform random choice through the injected Random (replayable with a seed). */
import { randomInt, type Random } from "../../util/random.js";
import type { Balancer, Candidate } from "./types.js";

export class RandomBalancer implements Balancer {
  constructor(private readonly random: Random) {}

  pick(candidates: readonly Candidate[]): Candidate | undefined {
    const n = candidates.length;
    if (n === 0) return undefined;
    if (n === 1) return candidates[0];
    return candidates[randomInt(this.random, n)];
  }
}
