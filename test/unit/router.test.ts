import { describe, expect, it } from "vitest";
import pino from "pino";
import { FakeClock } from "../../src/util/clock.js";
import { BaseService, type ServiceContext } from "../../src/services/base-service.js";
import { serviceMethod } from "../../src/services/method-options.js";
import { stubContext } from "../helpers/service-context.js";
import { instantiate } from "../../src/services/loader.js";
import { LocalServices } from "../../src/services/local-services.js";
import { ClusterRegistry, type MembershipSource } from "../../src/cluster/registry.js";
import { SingleNodeMembership } from "../../src/testing/single-node-membership.js";
import type { MemberView } from "../../src/cluster/types.js";
import { NodeMetrics } from "../../src/metrics/metrics.js";
import { Router } from "../../src/rpc/router.js";
import { P2PError } from "../../src/errors.js";
import type { CallContext } from "../../src/rpc/context.js";

const logger = pino({ level: "silent" });

class Svc extends BaseService {
  static override SERVICE_NAME = "svc";
  @serviceMethod({ public: true }) async open() {
    return "open";
  }
  @serviceMethod() async closed() {
    return "closed";
  }
  @serviceMethod({ public: true }) slow() {
    return new Promise((resolve) => setTimeout(resolve, 60_000));
  }
}

async function setup() {
  const clock = new FakeClock(1000);
  const local = new LocalServices();
  local.add(await instantiate(Svc, "svc", { logger, lifecycleTimeoutMs: 100, contextFor: (info) => stubContext(info) }));
  const membership = new SingleNodeMembership("n1", "127.0.0.1:1", { role: "worker", version: "t", started_at: 0, services: local.meta() });
  const router = new Router({ localId: "n1", local, registry: new ClusterRegistry(membership), clock, metrics: new NodeMetrics("n1", false) });
  return { clock, router };
}

const ctx = (role: "admin" | "client" | "service", clock: FakeClock, budget = 1000): CallContext => ({ caller: { sub: "t", role }, deadline: clock.now() + budget, traceId: "0".repeat(31) + "1" });

async function codeOf(p: Promise<unknown>): Promise<string> {
  return p.then(() => "OK", (e: unknown) => (e as P2PError).code);
}

describe("router (single node)", () => {
  it("runs local methods and enforces public for clients only", async () => {
    const { router, clock } = await setup();
    expect(await router.call(ctx("client", clock), "svc", "open", {})).toEqual({ result: "open", nodeId: "n1" });
    expect(await codeOf(router.call(ctx("client", clock), "svc", "closed", {}))).toBe("FORBIDDEN");
    expect((await router.call(ctx("admin", clock), "svc", "closed", {})).result).toBe("closed");
    expect((await router.call(ctx("service", clock), "svc", "closed", {})).result).toBe("closed");
  });

  it("answers 404 codes for unknown names", async () => {
    const { router, clock } = await setup();
    expect(await codeOf(router.call(ctx("admin", clock), "nope", "open", {}))).toBe("SERVICE_NOT_FOUND");
    expect(await codeOf(router.call(ctx("admin", clock), "svc", "nope", {}))).toBe("METHOD_NOT_FOUND");
    expect(await codeOf(router.call(ctx("admin", clock), "svc", "open", {}, { node: "ghost" }))).toBe("NODE_NOT_FOUND");
  });

  it("times out at the deadline on its clock", async () => {
    const { router, clock } = await setup();
    const pending = codeOf(router.call(ctx("admin", clock, 500), "svc", "slow", {}));
    clock.advance(499);
    clock.advance(1);
    expect(await pending).toBe("TIMEOUT");
    expect(await codeOf(router.call(ctx("admin", clock, 0), "svc", "open", {}))).toBe("TIMEOUT");
  });
});

describe("registry", () => {
  const member = (nodeId: string, role: "coordinator" | "worker", started_at: number, state: MemberView["state"] = "alive"): MemberView => ({
    nodeId,
    address: `127.0.0.1:${nodeId.length}`,
    state,
    incarnation: 0,
    lastChange: 0,
    meta: { role, version: "1", started_at, services: [{ name: "s", version: "1", methods: [{ name: "m", public: true, idempotent: false }] }] },
  });

  it("names the oldest alive coordinator as leader, stable when newer ones join", () => {
    let members = [member("c2", "coordinator", 100), member("w1", "worker", 50), member("c1", "coordinator", 200)];
    const listeners: (() => void)[] = [];
    const source: MembershipSource = { localId: "w1", members: () => [...members], onChange: (l) => (listeners.push(l), () => undefined) };
    const registry = new ClusterRegistry(source);
    expect(registry.leader()).toBe("c2");
    members = [...members, member("c0", "coordinator", 300)];
    listeners.forEach((l) => l());
    expect(registry.leader()).toBe("c2");
    members = members.map((m) => (m.nodeId === "c2" ? { ...m, state: "suspect" as const } : m));
    listeners.forEach((l) => l());
    expect(registry.leader()).toBe("c2");
    members = members.map((m) => (m.nodeId === "c2" ? { ...m, state: "dead" as const } : m));
    listeners.forEach((l) => l());
    expect(registry.leader()).toBe("c1");
    expect(registry.serviceMap()).toEqual({ s: ["c0", "c1", "w1"] });
    expect(registry.stateCounts()).toEqual({ alive: 3, suspect: 0, dead: 1, left: 0 });
  });
});

describe("router (remote hosts)", () => {
  const remoteMember = (nodeId: string, state: MemberView["state"]): MemberView => ({
    nodeId,
    address: `127.0.0.1:${nodeId.length}`,
    state,
    incarnation: 0,
    lastChange: 0,
    meta: { role: "worker", version: "1", started_at: 0, services: [{ name: "s", version: "1", methods: [{ name: "m", public: true, idempotent: true }] }] },
  });

  async function routeWith(members: MemberView[]) {
    const clock = new FakeClock(1000);
    const self: MemberView = { ...remoteMember("self", "alive"), meta: { role: "coordinator", version: "1", started_at: 0, services: [] } };
    const source: MembershipSource = { localId: "self", members: () => [self, ...members], onChange: () => () => undefined };
    const sentTo: string[][] = [];
    const remote = {
      call: async (hosts: MemberView[]) => {
        sentTo.push(hosts.map((h) => h.nodeId));
        return { result: "ok", nodeId: hosts[0]!.nodeId };
      },
    };
    const router = new Router({ localId: "self", local: new LocalServices(), registry: new ClusterRegistry(source), clock, metrics: new NodeMetrics("self", false), remote });
    const outcome = await codeOf(router.call(ctx("admin", clock), "s", "m", {}));
    return { outcome, sentTo };
  }

  it("sends to alive hosts only while there are any", async () => {
    expect(await routeWith([remoteMember("a", "alive"), remoteMember("b", "suspect")])).toEqual({ outcome: "OK", sentTo: [["a"]] });
  });

  it("falls back to suspect hosts when no alive one hosts the service; dead ones never", async () => {
    expect(await routeWith([remoteMember("b", "suspect"), remoteMember("d", "dead")])).toEqual({ outcome: "OK", sentTo: [["b"]] });
    expect(await routeWith([remoteMember("d", "dead")])).toEqual({ outcome: "UNAVAILABLE", sentTo: [] });
  });
});

describe("trace ids", () => {
  it("are 32 hex digits, random, and never repeat over many draws", async () => {
    const { newTraceId } = await import("../../src/rpc/context.js");
    const ids = new Set<string>();
    for (let i = 0; i < 1000; i++) {
      const id = newTraceId();
      expect(id).toMatch(/^[0-9a-f]{32}$/);
      expect(id).not.toBe("0".repeat(32));
      ids.add(id);
    }
    expect(ids.size).toBe(1000);
  });

  it("are read from a traceparent only when it is a valid W3C one (trimmed, any case)", async () => {
    const { traceIdOf } = await import("../../src/rpc/context.js");
    const id = "0af7651916cd43dd8448eb211c80319c";
    const valid = `00-${id}-b7ad6b7169203331-01`;
    expect(traceIdOf(valid)).toBe(id);
    expect(traceIdOf(`  ${valid.toUpperCase()}\t`)).toBe(id);
    expect(traceIdOf(`cc-${id}-b7ad6b7169203331-00`)).toBe(id);
    const invalid = [
      undefined,
      "",
      `ff-${id}-b7ad6b7169203331-01`,
      `00-${"0".repeat(32)}-b7ad6b7169203331-01`,
      `00-${id}-${"0".repeat(16)}-01`,
      `00-${id}-b7ad6b7169203331-01-extra`,
      `00-${id}-b7ad6b7169203331-1`,
      `00_${id}-b7ad6b7169203331-01`,
      `00-${id.slice(1)}g-b7ad6b7169203331-01`,
      `0-${id}-b7ad6b7169203331-01x`,
      `00-${id}-b7ad6b716920333z-01`,
      `0g-${id}-b7ad6b7169203331-01`,
    ];
    for (const tp of invalid) expect(traceIdOf(tp)).toBeUndefined();
  });
});
