import type { Span, Tracer } from "@opentelemetry/api";
import { randomBytes } from "node:crypto";
import { createRequire } from "node:module";
import { P2PError } from "../errors.js";
import type { Clock } from "../util/clock.js";
import type { ClusterRegistry } from "../cluster/registry.js";
import type { MemberView, MethodMeta } from "../cluster/types.js";
import { splitHostPort } from "../transport/transport.js";
import type { LinkCall, LinkTarget, PeerLinkPool } from "../transport/peer-link/index.js";
import type { Candidate } from "./balancers/types.js";
import { INTERNAL_SERVICE } from "./link-handler.js";
import { callWithResilience, type PipelineDeps, type ResilientCall } from "./pipeline.js";
import { Deadline } from "./deadline.js";
import { withTimeout } from "../util/with-timeout.js";
import type { CallContext } from "./context.js";
import { callerGone } from "./call-scope.js";
import type { CallResult, RemoteCaller } from "./router.js";
import type { RpcClientMetrics } from "./rpc-metrics.js";
import type { BalancerName } from "./balancers/types.js";

/** Span ids drawn at once: one call into the random source per 256 ids (8 bytes each). */
const SPAN_IDS_PER_DRAW = 256;
let spanPool = Buffer.alloc(0);
let spanTaken = 0;

/** 16 hex digits, never all zeros. */
function newSpanId(): string {
  if (spanTaken >= spanPool.length) {
    spanPool = randomBytes(8 * SPAN_IDS_PER_DRAW);
    spanTaken = 0;
  }
  const id = spanPool.toString("hex", spanTaken, (spanTaken += 8));
  return id === "0000000000000000" ? newSpanId() : id;
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
  /**
   * Built once per host list (the registry hands out the same array, per service, until
   * membership changes): the candidates and the service's declared balancer.
   */
  private readonly hostLists = new WeakMap<MemberView[], HostList>();
  /** nodeId → where its link goes, re-parsed only when its address changes. */
  private readonly targets = new Map<string, { address: string; target: LinkTarget }>();

  constructor(private readonly deps: ClusterCallerDeps) {}

  call(hosts: MemberView[], ctx: CallContext, service: string, method: string, params: Record<string, unknown>, meta: MethodMeta): Promise<CallResult> {
    const { deps } = this;
    const remaining = ctx.deadline - deps.clock.now();
    if (remaining <= 0) return Promise.reject(new P2PError("TIMEOUT", "deadline passed before the call was sent"));
    const list = this.hostList(hosts, service);
    const pipeline = deps.pipelines[ctx.balancer ?? list.balancer ?? deps.defaultBalancer];
    const call = new RemoteCall(this, list.candidates, Deadline.after(remaining, deps.clock), ctx, service, method, params, meta.idempotent);
    const tracing = registeredTracing();
    if (tracing) return traced(tracing, pipeline, call);
    // No tracer: the pipeline's promise is the call's, with no async frame around it.
    call.traceparent = `00-${ctx.traceId}-${newSpanId()}-01`;
    return callWithResilience(pipeline, call);
  }

  /** @internal One attempt of `RemoteCall` on the link: one promise derived from the link's, no async frame of its own. */
  attempt(nodeId: string, call: LinkCall): Promise<CallResult> {
    const { deps } = this;
    const member = deps.registry.member(nodeId);
    if (!member || member.state === "dead" || member.state === "left") {
      return Promise.reject(new P2PError("UNAVAILABLE", `node ${nodeId} has left`, { reason: "node_left" }));
    }
    const target = this.targetOf(member);
    const started = deps.clock.now();
    return deps.pool.call(target, call).then(
      (result) => {
        deps.metrics.call(nodeId, "ok", (deps.clock.now() - started) / 1000);
        return { result, nodeId };
      },
      (err: unknown) => {
        const error = err instanceof P2PError ? err : new P2PError("INTERNAL", err instanceof Error ? err.message : String(err));
        const transport = error.data !== null && typeof error.data === "object" && "reason" in error.data;
        deps.metrics.call(nodeId, transport ? String((error.data as { reason: unknown }).reason) : error.code === "TIMEOUT" ? "timeout" : "error", (deps.clock.now() - started) / 1000);
        if (!transport) error.answeredBy = nodeId;
        throw error;
      },
    );
  }

  /** @internal A retry (an attempt after the first) of `service.method`. */
  countRetry(service: string, method: string): void {
    this.deps.metrics.retries(service, method, 1);
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

  private hostList(hosts: MemberView[], service: string): HostList {
    let list = this.hostLists.get(hosts);
    if (list === undefined || list.service !== service) {
      const declared = hosts[0]?.meta?.services.find((s) => s.name === service)?.balancer;
      list = {
        service,
        candidates: hosts.map((h) => ({ nodeId: h.nodeId, local: false })),
        balancer: declared && declared in this.deps.pipelines ? declared : undefined,
      };
      this.hostLists.set(hosts, list);
    }
    return list;
  }

  private targetOf(member: MemberView): LinkTarget {
    const known = this.targets.get(member.nodeId);
    if (known && known.address === member.address) return known.target;
    const target = { nodeId: member.nodeId, ...splitHostPort(member.address) };
    this.targets.set(member.nodeId, { address: member.address, target });
    return target;
  }
}

/**
 * One remote call, described once: what the pipeline runs (candidates, deadline, attempts) and
 * what each attempt sends (the caller, trace, params). Each attempt after the first counts as
 * a retry.
 */
class RemoteCall implements ResilientCall<CallResult> {
  /** Set before the first attempt: this hop's span under the caller's trace. */
  traceparent = "";
  private attempts = 0;

  constructor(
    private readonly caller: ClusterCaller,
    readonly candidates: readonly Candidate[],
    readonly deadline: Deadline,
    readonly ctx: CallContext,
    readonly service: string,
    readonly method: string,
    private readonly params: Record<string, unknown>,
    readonly idempotent: boolean,
  ) {}

  attempt(nodeId: string, remainingMs: number): Promise<CallResult> {
    const { ctx, service, method } = this;
    if (++this.attempts > 1) this.caller.countRetry(service, method);
    if (ctx.cancel?.cancelled) throw callerGone(ctx.cancel.reason); // nobody waits: no (re)try
    const call: LinkCall = { service, method, params: this.params, caller: ctx.caller, timeoutMs: remainingMs, traceparent: this.traceparent };
    if (ctx.cancel) call.cancel = ctx.cancel;
    return this.caller.attempt(nodeId, call);
  }
}

/** The call under a client span of the registered tracer; the hop's traceparent names that span. */
async function traced(tracing: { api: OtelApi; tracer: Tracer }, pipeline: PipelineDeps, call: RemoteCall): Promise<CallResult> {
  const { service, method } = call;
  const span: Span = tracing.tracer.startSpan(`${service}.${method}`, { kind: tracing.api.SpanKind.CLIENT, attributes: { "rpc.system": "p2p-core", "rpc.service": service, "rpc.method": method } });
  const spanContext = span.spanContext();
  const { traceId } = call.ctx;
  call.traceparent = `00-${traceId}-${spanContext.traceId === traceId ? spanContext.spanId : newSpanId()}-01`;
  try {
    const out = await callWithResilience(pipeline, call);
    span.setAttribute("p2p.node", out.nodeId);
    return out;
  } catch (err) {
    span.setStatus({ code: tracing.api.SpanStatusCode.ERROR, message: err instanceof P2PError ? err.code : "error" });
    throw err;
  } finally {
    span.end();
  }
}

interface HostList {
  service: string;
  candidates: Candidate[];
  balancer: BalancerName | undefined;
}
