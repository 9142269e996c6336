import { describe, expect, it } from "vitest";
import { ClusterCaller } from "../../src/rpc/remote-caller.js";
import { createPipelineDeps, type PipelineDeps } from "../../src/rpc/pipeline.js";
import { RpcClientMetrics } from "../../src/rpc/rpc-metrics.js";
import { ClusterRegistry, type MembershipSource } from "../../src/cluster/registry.js";
import type { MemberView } from "../../src/cluster/types.js";
import { NodeMetrics } from "../../src/metrics/metrics.js";
import { FakeClock } from "../../src/util/clock.js";
import { SeededRandom } from "../../src/util/random.js";
import { P2PError } from "../../src/errors.js";
import type { LinkCall, LinkTarget, PeerLinkPool } from "../../src/transport/peer-link/index.js";
import type { BalancerName } from "../../src/rpc/balancers/types.js";

const member = (nodeId: string, port: number): MemberView => ({
  nodeId,
  address: `127.0.0.1:${port}`,
  state: "alive",
  incarnation: 1,
  lastChange: 0,
  meta: { role: "worker", version: "1", started_at: 0, services: [{ name: "svc", version: "1", methods: [{ name: "m", public: true, idempotent: false }] }] },
});

function setup(answer: (target: LinkTarget, call: LinkCall) => Promise<unknown>) {
  const clock = new FakeClock(1000);
  const members = [member("a", 1001), member("b", 1002)];
  const source: MembershipSource = { localId: "self", members: () => members, onChange: () => () => undefined };
  const registry = new ClusterRegistry(source);
  const deps = createPipelineDeps({ clock, random: new SeededRandom(7), balancer: "round-robin" });
  const pipelines = { "round-robin": deps, random: deps, "least-latency": deps } as Record<BalancerName, PipelineDeps>;
  const metrics = new NodeMetrics("self", false);
  const sent: { target: LinkTarget; call: LinkCall }[] = [];
  const pool = { call: (target: LinkTarget, call: LinkCall) => (sent.push({ target, call }), answer(target, call)) } as unknown as PeerLinkPool;
  const caller = new ClusterCaller({ pool, pipelines, defaultBalancer: "round-robin", registry, clock, metrics: new RpcClientMetrics(metrics, deps.breakers) });
  const ctx = { caller: { sub: "alice", role: "client" as const }, deadline: clock.now() + 2000, traceId: "4bf92f3577b34da6a3ce929d0e0e4736" };
  return { caller, members, sent, ctx, metrics };
}

describe("cluster caller", () => {
  it("sends the caller, the remaining budget and a traceparent of the same trace", async () => {
    const { caller, members, sent, ctx } = setup(async () => ({ ok: 1 }));
    const out = await caller.call(members, ctx, "svc", "m", { x: 1 }, { name: "m", public: true, idempotent: false });
    expect(out.result).toEqual({ ok: 1 });
    expect(sent).toHaveLength(1);
    const { call, target } = sent[0]!;
    expect(target.nodeId).toBe(out.nodeId);
    expect(call).toMatchObject({ service: "svc", method: "m", params: { x: 1 }, caller: { sub: "alice", role: "client" }, timeoutMs: 2000 });
    expect(call.traceparent).toMatch(/^00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-01$/);
  });

  it("retries a call that was never sent on another node, and counts the retry", async () => {
    const { caller, members, sent, ctx, metrics } = setup(async (target) => {
      if (target.nodeId === "a") throw new P2PError("UNAVAILABLE", "refused", { reason: "not_sent" });
      return "from b";
    });
    const first = await caller.call(members, ctx, "svc", "m", {}, { name: "m", public: true, idempotent: false });
    const second = await caller.call(members, ctx, "svc", "m", {}, { name: "m", public: true, idempotent: false });
    expect([first.nodeId, second.nodeId]).toEqual(["b", "b"]);
    expect(sent.map((s) => s.target.nodeId)).toContain("a");
    expect(await metrics.text()).toMatch(/p2p_rpc_retries_total\{service="svc",method="m",node="self"\} 1/);
  });

  it("an error the method answered with is not retried and names the node that answered", async () => {
    const { caller, members, sent, ctx } = setup(async () => {
      throw new P2PError("INTERNAL", "boom");
    });
    const err = (await caller.call(members, ctx, "svc", "m", {}, { name: "m", public: true, idempotent: true }).catch((e: unknown) => e)) as P2PError;
    expect(err).toMatchObject({ code: "INTERNAL", message: "boom" });
    expect(sent).toHaveLength(1);
    expect(err.answeredBy).toBe(sent[0]!.target.nodeId);
  });
});

describe("cluster caller deadlines", () => {
  it("a hop that never answers ends with TIMEOUT at the caller's deadline (the link's own timer)", async () => {
    const { caller, members, ctx, sent } = setup(
      (_target, call) => new Promise((_resolve, reject) => setTimeout(() => reject(new P2PError("TIMEOUT", `no answer within ${call.timeoutMs} ms`)), 20)),
    );
    const err = (await caller.call(members, ctx, "svc", "m", {}, { name: "m", public: true, idempotent: false }).catch((e: unknown) => e)) as P2PError;
    expect(err.code).toBe("TIMEOUT");
    expect(sent).toHaveLength(1);
  });
});

describe("cluster caller tracing", () => {
  it("with an OpenTelemetry SDK registered (even after start), each hop is a client span whose id the traceparent carries", async () => {
    const { trace } = await import("@opentelemetry/api");
    const spans: { name: string; attributes: Record<string, unknown>; status?: unknown; ended: boolean }[] = [];
    const provider = {
      getTracer: () => ({
        startSpan: (name: string, options: { attributes?: Record<string, unknown> }) => {
          const span = { name, attributes: { ...options.attributes }, status: undefined as unknown, ended: false };
          spans.push(span);
          return {
            spanContext: () => ({ traceId: "4bf92f3577b34da6a3ce929d0e0e4736", spanId: "00f067aa0ba902b7", traceFlags: 1 }),
            setAttribute: (key: string, value: unknown) => void (span.attributes[key] = value),
            setStatus: (status: unknown) => void (span.status = status),
            end: () => void (span.ended = true),
          };
        },
      }),
    };
    const { caller, members, sent, ctx } = setup(async () => "ok");
    await caller.call(members, ctx, "svc", "m", {}, { name: "m", public: true, idempotent: false });
    expect(spans).toHaveLength(0); // no SDK yet: no span
    expect(trace.setGlobalTracerProvider(provider as never)).toBe(true);
    try {
      const out = await caller.call(members, ctx, "svc", "m", {}, { name: "m", public: true, idempotent: false });
      expect(sent[1]!.call.traceparent).toBe("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
      expect(spans).toEqual([{ name: "svc.m", attributes: { "rpc.system": "p2p-core", "rpc.service": "svc", "rpc.method": "m", "p2p.node": out.nodeId }, status: undefined, ended: true }]);
    } finally {
      trace.disable();
    }
    await caller.call(members, ctx, "svc", "m", {}, { name: "m", public: true, idempotent: false });
    expect(spans).toHaveLength(1); // SDK gone: no span again
    expect(sent[2]!.call.traceparent).toMatch(/^00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-01$/);
  });
});
