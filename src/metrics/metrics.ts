import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

type CounterChild = { inc(value?: number): void };
type HistogramChild = { observe(value: number): void };

/**
 * One prom-client registry per node (not the global one, so several nodes can share a process
 * in tests). Label children are cached: the hot path does one Map lookup per metric.
 */
export class NodeMetrics {
  readonly registry = new Registry();
  private readonly rpcRequests: Counter<"service" | "method" | "code">;
  private readonly rpcDuration: Histogram<"service" | "method">;
  private readonly requestChildren = new Map<string, CounterChild>();
  private readonly durationChildren = new Map<string, HistogramChild>();

  constructor(nodeId: string, withProcessMetrics = true) {
    this.registry.setDefaultLabels({ node: nodeId });
    if (withProcessMetrics) collectDefaultMetrics({ register: this.registry, prefix: "p2p_process_" });
    this.rpcRequests = new Counter({
      name: "p2p_rpc_requests_total",
      help: "RPC calls received by this node, by service, method and result code (OK on success)",
      labelNames: ["service", "method", "code"],
      registers: [this.registry],
    });
    this.rpcDuration = new Histogram({
      name: "p2p_rpc_duration_seconds",
      help: "Duration of RPC calls received by this node",
      labelNames: ["service", "method"],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [this.registry],
    });
  }

  rpc(service: string, method: string, code: string, seconds: number): void {
    const key = `${service}\u0000${method}\u0000${code}`;
    let counter = this.requestChildren.get(key);
    if (!counter) this.requestChildren.set(key, (counter = this.rpcRequests.labels(service, method, code)));
    counter.inc();
    const dkey = `${service}\u0000${method}`;
    let histogram = this.durationChildren.get(dkey);
    if (!histogram) this.durationChildren.set(dkey, (histogram = this.rpcDuration.labels(service, method)));
    histogram.observe(seconds);
  }

  counter<L extends string>(name: string, help: string, labelNames: readonly L[]): Counter<L> {
    return new Counter({ name, help, labelNames, registers: [this.registry] });
  }

  gauge<L extends string>(name: string, help: string, labelNames: readonly L[], collect?: (this: Gauge<L>) => void): Gauge<L> {
    return new Gauge({ name, help, labelNames, registers: [this.registry], ...(collect ? { collect } : {}) });
  }

  histogram<L extends string>(name: string, help: string, labelNames: readonly L[], buckets: number[]): Histogram<L> {
    return new Histogram({ name, help, labelNames, buckets, registers: [this.registry] });
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
