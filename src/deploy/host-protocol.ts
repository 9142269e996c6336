/** Messages between the node (main thread) and a service's isolated host (a worker thread). */
import type { MethodDescriptor } from "../services/method-options.js";
import type { WireError } from "../errors.js";
import type { CallOptions } from "../services/proxy-types.js";

export interface HostInit {
  /** The name the service runs under (a deployment's name, or the services-dir folder). */
  name: string;
  folder: string;
  file: string;
  nodeId: string;
  lifecycleTimeoutMs: number;
}

export interface ServiceShape {
  name: string;
  version: string;
  description: string;
  balancer?: "round-robin" | "random" | "least-latency";
  methods: MethodDescriptor[];
}

export type ToHost =
  | { t: "call"; id: number; method: string; params: Record<string, unknown> }
  | { t: "reply"; id: number; ok: boolean; value?: unknown; error?: WireError }
  | { t: "stop" };

export type FromHost =
  | { t: "ready"; service: ServiceShape }
  | { t: "load_failed"; message: string }
  | { t: "result"; id: number; ok: boolean; value?: unknown; error?: WireError }
  | { t: "log"; level: "debug" | "info" | "warn" | "error"; obj: Record<string, unknown>; msg?: string }
  | { t: "proxy"; id: number; parent?: number; service: string; method: string; params: Record<string, unknown>; options: CallOptions }
  | { t: "cache"; id: number; op: "get" | "set" | "del" | "invalidate"; args: unknown[] }
  | { t: "stopped" };
