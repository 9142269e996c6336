/** Balancer strategies behind one factory; "least-latency" is the default. */
import type { Random } from "../../util/random.js";
import { LeastLatencyBalancer } from "./least-latency.js";
import type { CallStats } from "./call-stats.js";
import { RandomBalancer } from "./random.js";
import { RoundRobinBalancer } from "./round-robin.js";
import type { Balancer, BalancerName } from "./types.js";

export type { Balancer, BalancerName, BalanceContext, Candidate } from "./types.js";
export { CallStats, type CallToken, type CallStatsOptions } from "./call-stats.js";
export { RoundRobinBalancer } from "./round-robin.js";
export { RandomBalancer } from "./random.js";
export { LeastLatencyBalancer } from "./least-latency.js";

export const DEFAULT_BALANCER: BalancerName = "least-latency";
export const BALANCER_NAMES: readonly BalancerName[] = ["round-robin", "random", "least-latency"];

export interface BalancerDeps {
  random: Random;
  /** Shared with the pipeline (which records outcomes) and metrics. */
  stats: CallStats;
}

export function createBalancer(name: BalancerName, deps: BalancerDeps): Balancer {
  switch (name) {
    case "round-robin":
      return new RoundRobinBalancer();
    case "random":
      return new RandomBalancer(deps.random);
    case "least-latency":
      return new LeastLatencyBalancer(deps.stats, deps.random);
  }
}
