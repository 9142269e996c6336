import type { Registry } from "prom-client";
import type { Clock, Timer } from "../util/clock.js";
import type { MemberView } from "../cluster/types.js";
import type { EventBus } from "../events/bus.js";
import { cacheFigures } from "./cache-figures.js";
import { ClusterMetrics, type ClusterMetricsBody } from "./cluster-metrics.js";
import { MethodWindows } from "./method-window.js";
import { ProcessSampler, type ProcessSources } from "./process-sampler.js";
import type { NodeSnapshot } from "./snapshot.js";

/** Name of the peer-link operation that answers with this node's snapshot. */
export const SNAPSHOT_OPERATION = "metrics_snapshot";
/** How long the asked node waits for the others' figures. */
export const GATHER_TIMEOUT_MS = 1500;
/** Period of `metrics` events while someone listens. */
export const METRICS_EVENT_MS = 1000;

export interface NodeObserverDeps extends ProcessSources {
  localId: string;
  clock: Clock;
  registry: Registry;
  members(): MemberView[];
  fetchSnapshot(member: MemberView, timeoutMs: number): Promise<unknown>;
  events: EventBus;
}

/**
 * The node's live figures: per-method windows fed by the call path, process figures, the
 * cluster-wide gather, and a `metrics` event every second computed only while someone listens.
 */
export class NodeObserver {
  readonly windows: MethodWindows;
  readonly cluster: ClusterMetrics;
  private readonly process: ProcessSampler;
  private ticker: Timer | null = null;
  private unwatch: (() => void) | null = null;

  constructor(private readonly deps: NodeObserverDeps) {
    this.windows = new MethodWindows(deps.clock);
    this.process = new ProcessSampler(deps);
    this.cluster = new ClusterMetrics({
      localId: deps.localId,
      members: deps.members,
      localSnapshot: () => this.snapshot(),
      fetchSnapshot: deps.fetchSnapshot,
      clock: deps.clock,
      timeoutMs: GATHER_TIMEOUT_MS,
    });
  }

  /** This node's figures, as sent to a peer gathering the cluster's. */
  async snapshot(): Promise<NodeSnapshot> {
    return { window_s: this.windows.spanS(), process: this.process.sample(), methods: this.windows.figures(), cache: await cacheFigures(this.deps.registry) };
  }

  gather(): Promise<ClusterMetricsBody> {
    return this.cluster.gather();
  }

  start(): void {
    this.unwatch = this.deps.events.watchSubscribers((count) => (count > 0 ? this.startTicker() : this.stopTicker()));
    if (this.deps.events.subscriberCount > 0) this.startTicker();
  }

  stop(): void {
    this.unwatch?.();
    this.unwatch = null;
    this.stopTicker();
  }

  private startTicker(): void {
    if (this.ticker) return;
    let busy = false;
    this.ticker = this.deps.clock.setInterval(() => {
      if (busy) return;
      busy = true;
      this.gather()
        .then((body) => {
          if (this.ticker) this.deps.events.publish("metrics", body, { transient: true });
        })
        .catch(() => undefined)
        .finally(() => (busy = false));
    }, METRICS_EVENT_MS);
  }

  private stopTicker(): void {
    this.ticker?.cancel();
    this.ticker = null;
  }
}
