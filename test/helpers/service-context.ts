import pino from "pino";
import type { ServiceContext, ServiceInfo } from "../../src/services/base-service.js";

/** A service context with nothing behind it (no node): for tests of loading and typing only. */
export function stubContext(info: ServiceInfo, overrides: Partial<ServiceContext> = {}): ServiceContext {
  return {
    nodeId: "n1",
    logger: pino({ level: "silent" }),
    info,
    cache: {} as ServiceContext["cache"],
    proxy: {},
    proxyFor: () => ({}),
    currentCall: () => undefined,
    broadcast: async () => ({ results: {}, ok: 0, failed: 0 }),
    cluster: { self: "n1", nodes: () => [], nodesOf: () => [], leader: () => null },
    phase: "initializing",
    ...overrides,
  };
}
