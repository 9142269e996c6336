import type { NodeMetrics } from "../metrics/metrics.js";
import type { FastCounter, FastHistogram, HistogramCell } from "../metrics/fast-metrics.js";
import type { BreakerSet, BreakerState } from "./circuit-breaker.js";

const BREAKER_VALUE: Record<BreakerState, number> = { closed: 0, "half-open": 1, open: 2 };

/**
 * Metrics of calls this node sends to others: by target and outcome, latency, retries, and
 * breaker states (read from the BreakerSet at scrape time). forget() drops every series of
 * a departed node, so no dead node reads "open" forever.
 */
export class RpcClientMetrics {
  private readonly calls: FastCounter;
  private readonly duration: FastHistogram;
  private readonly retriesTotal: FastCounter;
  /** target → outcome → cell, and target → latency cell: no string building per call. */
  private readonly callCells = new Map<string, Map<string, { value: number }>>();
  private readonly durationCells = new Map<string, HistogramCell>();

  constructor(metrics: NodeMetrics, breakers: BreakerSet) {
    this.calls = metrics.fastCounter("p2p_rpc_client_calls_total", "Calls sent to other nodes, by target node and outcome (ok, error, timeout, or the transport reason)", ["target", "outcome"]);
    this.duration = metrics.fastHistogram("p2p_rpc_client_duration_seconds", "Latency of calls sent to other nodes, by target node", ["target"], [0.0002, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5, 30]);
    this.retriesTotal = metrics.fastCounter("p2p_rpc_retries_total", "Extra attempts made on another node, by service and method", ["service", "method"]);
    metrics.gauge("p2p_breaker_state", "Circuit breaker per endpoint (target node, service, method): 0 closed, 1 half-open, 2 open", ["target", "service", "method"], function () {
      this.reset();
      for (const b of breakers.endpoints()) this.set({ target: b.nodeId, service: b.service, method: b.method }, BREAKER_VALUE[b.state]);
    });
    metrics.gauge("p2p_node_breaker_state", "Node-level breaker (unreachability) per target node: 0 closed, 1 half-open, 2 open", ["target"], function () {
      this.reset();
      for (const b of breakers.nodeStates()) this.set({ target: b.nodeId }, BREAKER_VALUE[b.state]);
    });
  }

  call(target: string, outcome: string, seconds: number): void {
    let byOutcome = this.callCells.get(target);
    if (!byOutcome) this.callCells.set(target, (byOutcome = new Map()));
    let cell = byOutcome.get(outcome);
    if (!cell) byOutcome.set(outcome, (cell = this.calls.cell([target, outcome])));
    cell.value += 1;
    let observer = this.durationCells.get(target);
    if (!observer) this.durationCells.set(target, (observer = this.duration.cell([target])));
    observer.observe(seconds);
  }

  retries(service: string, method: string, count: number): void {
    this.retriesTotal.cell([service, method]).value += count;
  }

  /** A node left or died: its series go. */
  forget(target: string): void {
    this.callCells.delete(target);
    this.durationCells.delete(target);
    this.calls.drop("target", target);
    this.duration.drop("target", target);
  }
}
