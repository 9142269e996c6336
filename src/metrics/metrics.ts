import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { constLabelText, FastCounter, FastHistogram, type HistogramCell } from "./fast-metrics.js";
import type { MethodWindow, MethodWindows } from "../observe/method-window.js";

/**
 * One prom-client registry per node (not the global one, so several nodes can share a process
 * in tests), plus hot-path series kept in plain numbers (fast-metrics.ts).
 */
export interface MethodCells {
  readonly service: string;
  readonly method: string;
  duration: HistogramCell;
  /** The "OK" cells of the two counters (the common case, no map lookup), made on the first OK. */
  requestsOk: { value: number } | null;
  executedOk: { value: number } | null;
  /** code → p2p_rpc_requests_total cell */
  requests: Map<string, { value: number }>;
  /** code → p2p_rpc_executed_total cell */
  executed: Map<string, { value: number }>;
  /** The method's sliding window (null without windows, or for calls to unknown methods). */
  window: MethodWindow | null;
}

/** Label the router uses for calls that named no existing service or method. */
const UNKNOWN_LABEL = "<unknown>";

export class NodeMetrics {
  readonly registry = new Registry();
  private readonly nodeLabel: string;
  /** Hot-path series rendered by us after prom-client's text. */
  private readonly fast: (FastCounter | FastHistogram)[] = [];
  private readonly rpcRequests: FastCounter;
  private readonly rpcDuration: FastHistogram;
  private readonly rpcExecuted: FastCounter;
  /** service → method → its cells: no string building per call. */
  private readonly cells = new Map<string, Map<string, MethodCells>>();
  private windows: MethodWindows | null = null;

  constructor(nodeId: string, withProcessMetrics = true) {
    this.registry.setDefaultLabels({ node: nodeId });
    if (withProcessMetrics) collectDefaultMetrics({ register: this.registry, prefix: "p2p_process_", eventLoopMonitoringPrecision: 50 });
    this.nodeLabel = constLabelText({ node: nodeId });
    this.rpcRequests = this.fastCounter("p2p_rpc_requests_total", "RPC calls received by this node, by service, method and result code (OK on success)", ["service", "method", "code"]);
    this.rpcExecuted = this.fastCounter("p2p_rpc_executed_total", "Method executions on this node (whichever node received the call), by service, method and result code", ["service", "method", "code"]);
    this.rpcDuration = this.fastHistogram("p2p_rpc_duration_seconds", "Duration of RPC calls received by this node", ["service", "method"], [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]);
  }

  /** A call this node received (HTTP or a service's proxy), whatever node ran it. */
  rpc(service: string, method: string, code: string, seconds: number): void {
    this.rpcOf(this.methodCells(service, method), code, seconds);
  }

  /** rpc() with the method's cells already in hand (kept by the caller per method). */
  rpcOf(entry: MethodCells, code: string, seconds: number): void {
    let counter = code === "OK" ? entry.requestsOk : entry.requests.get(code);
    if (!counter) {
      counter = this.rpcRequests.cell([entry.service, entry.method, code]);
      if (code === "OK") entry.requestsOk = counter;
      else entry.requests.set(code, counter);
    }
    counter.value += 1;
    entry.duration.observe(seconds);
    if (entry.window) this.windows!.record(entry.window, seconds * 1000, code !== "OK");
  }

  /** Feeds every call this node receives into per-method sliding windows (live figures). */
  attachWindows(windows: MethodWindows): void {
    this.windows = windows;
  }

  /** A method this node ran. */
  executed(service: string, method: string, code: string): void {
    this.executedOf(this.methodCells(service, method), code);
  }

  executedOf(entry: MethodCells, code: string): void {
    let counter = code === "OK" ? entry.executedOk : entry.executed.get(code);
    if (!counter) {
      counter = this.rpcExecuted.cell([entry.service, entry.method, code]);
      if (code === "OK") entry.executedOk = counter;
      else entry.executed.set(code, counter);
    }
    counter.value += 1;
  }

  /** The cells of one method, the same object for the life of the node: callers may keep it. */
  methodCells(service: string, method: string): MethodCells {
    let byMethod = this.cells.get(service);
    if (!byMethod) this.cells.set(service, (byMethod = new Map()));
    let entry = byMethod.get(method);
    if (!entry) {
      byMethod.set(method, (entry = {
        service,
        method,
        duration: this.rpcDuration.cell([service, method]),
        requestsOk: null,
        executedOk: null,
        requests: new Map(),
        executed: new Map(),
        window: this.windows && service !== UNKNOWN_LABEL && method !== UNKNOWN_LABEL ? this.windows.window(service, method) : null,
      }));
    }
    return entry;
  }

  /** A counter for hot paths: keep the cells it hands out. */
  fastCounter(name: string, help: string, labelNames: readonly string[]): FastCounter {
    const metric = new FastCounter(name, help, labelNames, this.nodeLabel);
    this.fast.push(metric);
    return metric;
  }

  fastHistogram(name: string, help: string, labelNames: readonly string[], buckets: number[]): FastHistogram {
    const metric = new FastHistogram(name, help, labelNames, buckets, this.nodeLabel);
    this.fast.push(metric);
    return metric;
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

  async text(): Promise<string> {
    return `${await this.registry.metrics()}${this.fast.map((m) => `${m.render()}\n`).join("")}`;
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
