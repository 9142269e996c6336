import type { Span, Tracer } from "@opentelemetry/api";
import { randomUUID } from "node:crypto";
import { createRequire } from "node:module";
import { P2PError } from "../errors.js";
import type { Clock } from "../util/clock.js";
import type { ClusterRegistry } from "../cluster/registry.js";
import type { MemberView, MethodMeta } from "../cluster/types.js";
import { splitHostPort } from "../transport/transport.js";
import type { LinkTarget, PeerLinkPool } from "../transport/peer-link/index.js";
import type { Candidate } from "./balancers/types.js";
import { INTERNAL_SERVICE } from "./link-handler.js";
import { callWithResilience, type PipelineDeps } from "./pipeline.js";
import { Deadline } from "./deadline.js";
import { withTimeout } from "../util/with-timeout.js";
import type { CallContext } from "./context.js";
import { callerGone } from "./call-scope.js";
import type { CallResult, RemoteCaller } from "./router.js";
import type { RpcClientMetrics } from "./rpc-metrics.js";
import type { BalancerName } from "./balancers/types.js";

/** 16 hex digits; randomUUID draws from a cached entropy pool (randomBytes would be a syscall per call). */
function newSpanId(): string {
  return randomUUID().replace(/-/g, "").slice(0, 16);
}

/** Where the OpenTelemetry API (any copy of major version 1) finds a registered SDK. */
const OTEL_GLOBAL = Symbol.for("opentelemetry.js.api.1");
type OtelApi = typeof import("@opentelemetry/api");
let otel: OtelApi | null = null;

/**
 * The API and a tracer once an SDK has registered a tracer provider, else null. Without an SDK
 * the API's spans record nothing and carry no ids, so the API (~100 files) is not even loaded
 * until one is registered (it may be, later, by a service).
 */
function registeredTracing(): { api: OtelApi; tracer: Tracer } | null {
  const registered = (globalThis as Record<symbol, { trace?: unknown } | undefined>)[OTEL_GLOBAL];
  if (registered?.trace === undefined) return null;
  otel ??= createRequire(import.meta.url)("@opentelemetry/api") as OtelApi;
  return { api: otel, tracer: otel.trace.getTracer("p2p-core") };
}

export interface ClusterCallerDeps {
  pool: PeerLinkPool;
  /** One set per balancer strategy; they share stats, breakers and bulkheads. */
  pipelines: Record<BalancerName, PipelineDeps>;
  defaultBalancer: BalancerName;
  registry: ClusterRegistry;
  clock: Clock;
  metrics: RpcClientMetrics;
}

/**
 * Calls to other nodes: the resilience pipeline (balancer, breaker, bulkhead, deadline, retry)
 * around the peer link, with a span and a W3C traceparent per hop.
 */
export class ClusterCaller implements RemoteCaller {
  /** Built once per host list (the registry hands out the same array until membership changes). */
  private readonly candidates = new WeakMap<MemberView[], Candidate[]>();
  /** nodeId → where its link goes, re-parsed only when its address changes. */
  private readonly targets = new Map<string, { address: string; target: LinkTarget }>();

  constructor(private readonly deps: ClusterCallerDeps) {}

  async call(hosts: MemberView[], ctx: CallContext, service: string, method: string, params: Record<string, unknown>, meta: MethodMeta): Promise<CallResult> {
    const { deps } = this;
    const remaining = ctx.deadline - deps.clock.now();
    if (remaining <= 0) throw new P2PError("TIMEOUT", "deadline passed before the call was sent");
    const balancer = ctx.balancer ?? this.serviceBalancer(hosts, service) ?? deps.defaultBalancer;
    const tracing = registeredTracing();
    const span: Span | null = tracing ? tracing.tracer.startSpan(`${service}.${method}`, { kind: tracing.api.SpanKind.CLIENT, attributes: { "rpc.system": "p2p-core", "rpc.service": service, "rpc.method": method } }) : null;
    const spanContext = span?.spanContext();
    const traceparent = `00-${ctx.traceId}-${spanContext?.traceId === ctx.traceId ? spanContext.spanId : newSpanId()}-01`;
    let attempts = 0;
    try {
      const out = await callWithResilience(deps.pipelines[balancer], {
        service,
        method,
        candidates: this.candidatesOf(hosts),
        deadline: Deadline.after(remaining, deps.clock),
        idempotent: meta.idempotent,
        attempt: (nodeId, remainingMs) => {
          attempts += 1;
          if (ctx.cancel?.cancelled) throw callerGone(ctx.cancel.reason); // nobody waits: no (re)try
          return this.attempt(nodeId, { service, method, params, caller: ctx.caller, timeoutMs: remainingMs, traceparent, ...(ctx.cancel ? { cancel: ctx.cancel } : {}) });
        },
      });
      span?.setAttribute("p2p.node", out.nodeId);
      return out;
    } catch (err) {
      if (span && tracing) span.setStatus({ code: tracing.api.SpanStatusCode.ERROR, message: err instanceof P2PError ? err.code : "error" });
      throw err;
    } finally {
      if (attempts > 1) deps.metrics.retries(service, method, attempts - 1);
      span?.end();
    }
  }

  private async attempt(nodeId: string, call: Parameters<PeerLinkPool["call"]>[1]): Promise<CallResult> {
    const member = this.deps.registry.member(nodeId);
    if (!member || member.state === "dead" || member.state === "left") {
      throw new P2PError("UNAVAILABLE", `node ${nodeId} has left`, { reason: "node_left" });
    }
    const target = this.targetOf(member);
    const started = this.deps.clock.now();
    try {
      const result = await this.deps.pool.call(target, call);
      this.deps.metrics.call(nodeId, "ok", (this.deps.clock.now() - started) / 1000);
      return { result, nodeId };
    } catch (err) {
      const error = err instanceof P2PError ? err : new P2PError("INTERNAL", err instanceof Error ? err.message : String(err));
      const transport = error.data !== null && typeof error.data === "object" && "reason" in error.data;
      this.deps.metrics.call(nodeId, transport ? String((error.data as { reason: unknown }).reason) : error.code === "TIMEOUT" ? "timeout" : "error", (this.deps.clock.now() - started) / 1000);
      if (!transport) error.answeredBy = nodeId;
      throw error;
    }
  }

  /** A node-to-node operation that is not a service method (see link-handler), to one member. */
  callInternal(member: MemberView, method: string, params: Record<string, unknown>, sender: string, timeoutMs: number): Promise<unknown> {
    const sent = this.deps.pool.call(this.targetOf(member), { service: INTERNAL_SERVICE, method, params, caller: { sub: sender, role: "service" }, timeoutMs });
    return withTimeout(sent, timeoutMs, this.deps.clock, () => new P2PError("TIMEOUT", `no answer from ${member.nodeId} within ${timeoutMs} ms`, { reason: "deadline_exceeded" }));
  }

  /** A node left or died: drop its cached link target and its metrics series. */
  forget(nodeId: string): void {
    this.targets.delete(nodeId);
    this.deps.metrics.forget(nodeId);
  }

  private candidatesOf(hosts: MemberView[]): Candidate[] {
    let list = this.candidates.get(hosts);
    if (!list) this.candidates.set(hosts, (list = hosts.map((h) => ({ nodeId: h.nodeId, local: false }))));
    return list;
  }

  private targetOf(member: MemberView): LinkTarget {
    const known = this.targets.get(member.nodeId);
    if (known && known.address === member.address) return known.target;
    const target = { nodeId: member.nodeId, ...splitHostPort(member.address) };
    this.targets.set(member.nodeId, { address: member.address, target });
    return target;
  }

  private serviceBalancer(hosts: MemberView[], service: string): BalancerName | undefined {
    const declared = hosts[0]?.meta?.services.find((s) => s.name === service)?.balancer;
    return declared && declared in this.deps.pipelines ? declared : undefined;
  }
}
