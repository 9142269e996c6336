import type { NodeMetrics } from "../metrics/metrics.js";
import type { BreakerSet, BreakerState } from "./circuit-breaker.js";

type Child = { inc(v?: number): void };
type Observer = { observe(v: number): void };

const BREAKER_VALUE: Record<BreakerState, number> = { closed: 0, "half-open": 1, open: 2 };

/** Metrics of calls this node sends to others: by target and outcome, latency, retries, breakers. */
export class RpcClientMetrics {
  private readonly calls;
  private readonly duration;
  private readonly retriesTotal;
  private readonly callChildren = new Map<string, Child>();
  private readonly durationChildren = new Map<string, Observer>();

  constructor(metrics: NodeMetrics, breakers: BreakerSet) {
    this.calls = metrics.counter("p2p_rpc_client_calls_total", "Calls sent to other nodes, by target node and outcome (ok, error, timeout, or the transport reason)", ["target", "outcome"]);
    this.duration = metrics.histogram("p2p_rpc_client_duration_seconds", "Latency of calls sent to other nodes, by target node", ["target"], [0.0002, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5, 30]);
    this.retriesTotal = metrics.counter("p2p_rpc_retries_total", "Extra attempts made on another node, by service and method", ["service", "method"]);
    const breakerState = metrics.gauge("p2p_breaker_state", "Circuit breaker per target node: 0 closed, 1 half-open, 2 open", ["target"]);
    breakers.onChange((change) => breakerState.set({ target: change.nodeId }, BREAKER_VALUE[change.to]));
  }

  call(target: string, outcome: string, seconds: number): void {
    const key = `${target}\u0000${outcome}`;
    let child = this.callChildren.get(key);
    if (!child) this.callChildren.set(key, (child = this.calls.labels(target, outcome)));
    child.inc();
    let observer = this.durationChildren.get(target);
    if (!observer) this.durationChildren.set(target, (observer = this.duration.labels(target)));
    observer.observe(seconds);
  }

  retries(service: string, method: string, count: number): void {
    this.retriesTotal.labels(service, method).inc(count);
  }
}
