/**
 * Membership timing knobs and the formulas that scale them with the cluster size
 * (the same formulas as hashicorp/memberlist, so its test vectors hold).
 */
export interface MembershipConfig {
  probeIntervalMs: number;
  probeTimeoutMs: number;
  indirectChecks: number;
  suspicionMult: number;
  suspicionMaxTimeoutMult: number;
  retransmitMult: number;
  gossipIntervalMs: number;
  gossipNodes: number;
  pushPullIntervalMs: number;
  gossipToTheDeadMs: number;
  awarenessMaxMultiplier: number;
  reconnectIntervalMs: number;
  reconnectTimeoutMs: number;
  leftReconnectTimeoutMs: number;
  joinRetry: { initialMs: number; maxMs: number };
}

/**
 * Our LAN defaults. memberlist's LAN profile (1 s probes, SuspicionMult 4, 200 ms gossip)
 * declares a crash at N = 100 dead everywhere in ~10–13 s. We want ≤ 5 s, so probes run
 * every 400 ms, gossip every 100 ms and the suspicion window is SuspicionMult 3
 * (min = 3 × log10(N) × 400 ms = 2.4 s at N = 100, reached after one independent
 * confirmation). Measured in the simulator: crash → dead everywhere in 3.1–4.1 s at
 * N = 100 (memberlist profile: 9.5 s); no false positive over 10 min with 10 % loss.
 * Trade-off: a member that is completely unresponsive (GC pause, CPU starvation) for
 * longer than ≈ probe period + suspicion min (≈ 1.7 s at N = 30, ≈ 2–2.5 s at N = 100,
 * 1.2 s for N ≤ 10) is declared dead and has to refute (a flap), where memberlist's
 * profile rides out ~4 s+; probe traffic is 2.5 pings/s per member instead of 1.
 * Lifeguard (awareness, nacks, confirmations, direct refutation, and suspicion holders
 * re-telling the suspect each period until it answers them) keeps random loss from
 * turning into false positives. Clusters that stall for seconds should raise
 * probeIntervalMs / suspicionMult (memberlist's values are a valid choice).
 */
export const LAN_DEFAULTS: MembershipConfig = {
  // One member probed per period (scaled by Lifeguard awareness).
  probeIntervalMs: 400,
  // Wait for a direct ack before asking others to probe indirectly (LAN RTT ≪ this).
  probeTimeoutMs: 200,
  // Members asked to ping-req a target that missed its direct ack.
  indirectChecks: 3,
  // Suspicion min = mult × max(1, log10 N) × probe interval; needs mult − 2 confirmations.
  suspicionMult: 3,
  // Suspicion max (no confirmations) = this × min.
  suspicionMaxTimeoutMult: 6,
  // Each broadcast is sent retransmitMult × ⌈log10(N+1)⌉ times.
  retransmitMult: 4,
  // Dedicated gossip period: faster gossip spreads news (incl. "dead") sooner.
  gossipIntervalMs: 100,
  // Random members each gossip round goes to.
  gossipNodes: 3,
  // Full-state anti-entropy with one random member (scaled up once N > 32, with N as it is
  // when each wait ends: 180 s at N = 1,000).
  pushPullIntervalMs: 30_000,
  // Dead/left members still receive gossip this long (to refute), then are reaped.
  gossipToTheDeadMs: 30_000,
  // Lifeguard local health score range: probe interval × (score + 1), score < this.
  awarenessMaxMultiplier: 8,
  // A push-pull with one departed member about this often (±25 % jitter, so members started
  // together do not reconnect in lockstep): partitions heal and restarts rejoin.
  reconnectIntervalMs: 10_000,
  // Give up re-contacting a dead member after this long.
  reconnectTimeoutMs: 6 * 3600_000,
  // A member that left is re-contacted for this long: a restarted coordinator (which has no
  // seeds of its own) finds its workers again because they keep knocking.
  leftReconnectTimeoutMs: 15 * 60_000,
  // joinWithRetry backoff: doubles from initialMs up to maxMs.
  joinRetry: { initialMs: 1_000, maxMs: 30_000 },
};

export function resolveConfig(partial: Partial<MembershipConfig> | undefined): MembershipConfig {
  const config: MembershipConfig = { ...LAN_DEFAULTS, ...partial, joinRetry: { ...LAN_DEFAULTS.joinRetry, ...partial?.joinRetry } };
  const positive: Array<keyof MembershipConfig> = ["probeIntervalMs", "probeTimeoutMs", "gossipIntervalMs", "pushPullIntervalMs"];
  for (const key of positive) {
    const v = config[key];
    if (typeof v !== "number" || !(v > 0)) throw new Error(`membership config ${key} must be > 0`);
  }
  if (config.probeTimeoutMs > config.probeIntervalMs) throw new Error("probeTimeoutMs must not exceed probeIntervalMs");
  if (config.awarenessMaxMultiplier < 1) throw new Error("awarenessMaxMultiplier must be ≥ 1");
  return config;
}

/** Minimum suspicion timeout: mult × max(1, log10 N) × interval (memberlist util.go). */
export function suspicionTimeout(mult: number, n: number, intervalMs: number): number {
  const nodeScale = Math.max(1, Math.log10(Math.max(1, n)));
  // memberlist truncates to milliseconds.
  return Math.floor(mult * nodeScale * intervalMs);
}

/** How many times a broadcast is sent: mult × ⌈log10(N + 1)⌉. */
export function retransmitLimit(mult: number, n: number): number {
  return mult * Math.ceil(Math.log10(n + 1));
}

/** Push-pull interval stretched for big clusters so full-state traffic stays bounded. */
export function pushPullScale(intervalMs: number, n: number): number {
  const threshold = 32;
  if (n <= threshold) return intervalMs;
  const multiplier = Math.ceil(Math.log2(n) - Math.log2(threshold)) + 1;
  return multiplier * intervalMs;
}
