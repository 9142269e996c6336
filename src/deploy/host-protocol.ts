/** Messages between the node (main thread) and a service's isolated host (a worker thread). */
import type { MethodDescriptor } from "../services/method-options.js";
import type { WireError } from "../errors.js";
import type { CallOptions } from "../services/proxy-types.js";
import type { ClusterNode } from "../services/cluster-view.js";

/** `this.cluster` inside the thread reads the latest snapshot the node sent. */
export interface ClusterSnapshot {
  self: string;
  nodes: ClusterNode[];
  leader: string | null;
}

/** What a method sees as `this.call` (the deadline in epoch ms). */
export interface CallInfo {
  deadline: number;
  caller: { sub: string; role: string };
  traceId: string;
}

export interface HostInit {
  /** The name the service runs under (a deployment's name, or the services-dir folder). */
  name: string;
  /** The service runs under `name` whatever its class declares (a deployment names its service). */
  fixedName?: boolean;
  folder: string;
  file: string;
  nodeId: string;
  lifecycleTimeoutMs: number;
  cluster: ClusterSnapshot;
}

export interface ServiceShape {
  name: string;
  version: string;
  description: string;
  balancer?: "round-robin" | "random" | "least-latency";
  methods: MethodDescriptor[];
}

export type ToHost =
  | { t: "call"; id: number; method: string; params: Record<string, unknown>; call?: CallInfo }
  | { t: "cancel"; id: number }
  | { t: "cluster"; snapshot: ClusterSnapshot }
  | { t: "reply"; id: number; ok: boolean; value?: unknown; error?: WireError }
  | { t: "stop" };

export type FromHost =
  | { t: "ready"; service: ServiceShape }
  | { t: "load_failed"; message: string }
  | { t: "result"; id: number; ok: boolean; value?: unknown; error?: WireError }
  | { t: "log"; level: "debug" | "info" | "warn" | "error"; obj: Record<string, unknown>; msg?: string }
  | { t: "proxy"; id: number; parent?: number; service: string; method: string; params: Record<string, unknown>; options: CallOptions }
  | { t: "broadcast"; id: number; parent?: number; service: string; method: string; params: Record<string, unknown> }
  | { t: "cache"; id: number; op: "get" | "set" | "del" | "invalidate"; args: unknown[] }
  | { t: "stopped" };
