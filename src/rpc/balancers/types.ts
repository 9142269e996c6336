/** The balancer seam (DESIGN §3): pick one node among those able to run a call. */

export interface Candidate {
  nodeId: string;
  /** True for this node itself. The router prefers it before asking a balancer. */
  local: boolean;
}

export interface BalanceContext {
  service: string;
  method: string;
}

export interface Balancer {
  /** One of `candidates`, or undefined when the list is empty. Must not mutate the list. */
  pick(candidates: readonly Candidate[], ctx: BalanceContext): Candidate | undefined;
}

export type BalancerName = "round-robin" | "random" | "least-latency";
