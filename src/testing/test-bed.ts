/**
 * `createTestBed()`: runs service classes in-process, on the real router (schemas, public
 * flags, deadlines, method caches, error codes as in a cluster), with a fake clock, an
 * in-memory cache and peer services either real (other classes) or stubbed (plain functions).
 * Works in any test runner: it only returns promises.
 */
import { P2PError } from "../errors.js";
import { FakeClock } from "../util/clock.js";
import { NodeMetrics } from "../metrics/metrics.js";
import { ClusterRegistry } from "../cluster/registry.js";
import { Router } from "../rpc/router.js";
import { newTraceId, type CallContext } from "../rpc/context.js";
import { Cancellation } from "../rpc/cancellation.js";
import { TwoLevelCache } from "../cache/two-level.js";
import { MethodCache } from "../cache/method-cache.js";
import { ServiceCache } from "../cache/service-cache.js";
import { BaseService, type ServiceLogger } from "../services/base-service.js";
import { instantiate, withTimeout } from "../services/loader.js";
import { LocalServices, type LocalMethod } from "../services/local-services.js";
import { createServiceContext } from "../services/service-context.js";
import type { ServiceCacheApi } from "../services/service-cache-api.js";
import { SingleNodeMembership } from "./single-node-membership.js";

/** A stubbed method: receives the params, returns (or resolves to) the result, or throws a P2PError. */
export type StubMethod = (params: Record<string, unknown>) => unknown;

export type ServiceClass = (new () => BaseService) & { SERVICE_NAME?: string };

export interface TestBedOptions {
  /** Service classes run for real: a class with a static SERVICE_NAME, or `{ name, service }`. */
  services: Array<ServiceClass | { name: string; service: ServiceClass }>;
  /** Peer services replaced by functions: `{ inventory: { reserve: ({ sku }) => ({ reserved: true }) } }`. */
  stubs?: Record<string, Record<string, StubMethod>>;
  /** This node's id, as services see it in `this.nodeId` (default "test-node"). */
  nodeId?: string;
  /** Default deadline of `bed.call` and of calls services start outside a method (default 30 000 ms). */
  timeoutMs?: number;
  /** Deadlines, cache lifetimes and service timers on `this.clock`-driven code run on this clock. */
  clock?: FakeClock;
  /** Where services' logs go (default: nowhere). */
  logger?: ServiceLogger;
}

export interface BedCallOptions {
  timeoutMs?: number;
  /** Who calls (default "admin"; "client" may call public methods only). */
  role?: "admin" | "client" | "service";
  /** Aborts the call as a client hanging up would (the method's this.call.signal fires). */
  signal?: AbortSignal;
}

/** A call a stub received. */
export interface StubCall {
  service: string;
  method: string;
  params: Record<string, unknown>;
}

const silent: ServiceLogger = { debug() {}, info() {}, warn() {}, error() {} };

export class TestBed {
  /** Calls the stubs received, in order. */
  readonly calls: StubCall[] = [];

  constructor(
    readonly clock: FakeClock,
    private readonly router: Router,
    private readonly local: LocalServices,
    private readonly cache: TwoLevelCache,
    private readonly timeoutMs: number,
  ) {}

  /** Calls `"service.method"` as a client of the cluster would; rejects with a P2PError (`.code`). */
  async call<T = unknown>(target: string, params: Record<string, unknown> = {}, options: BedCallOptions = {}): Promise<T> {
    const dot = target.indexOf(".");
    if (dot <= 0 || dot === target.length - 1) throw new P2PError("BAD_REQUEST", `"${target}" is not "service.method"`);
    const ctx: CallContext = {
      caller: { sub: "test", role: options.role ?? "admin" },
      deadline: this.clock.now() + (options.timeoutMs ?? this.timeoutMs),
      traceId: newTraceId(),
      ...(options.signal ? { cancel: cancellationOf(options.signal) } : {}),
    };
    const out = await this.router.call(ctx, target.slice(0, dot), target.slice(dot + 1), params);
    return out.result as T;
  }

  /** The running instance of a real service, to inspect its state. */
  service<S extends BaseService>(name: string): S {
    const svc = this.local.get(name);
    if (!svc || svc.instance instanceof StubService) throw new Error(`no real service "${name}" in this test bed`);
    return svc.instance as S;
  }

  /** A service's view of the cache (`this.cache` of that service). */
  cacheOf(service: string): ServiceCacheApi {
    return new ServiceCache(this.cache, service);
  }

  /** Runs every real service's cleanup(). */
  async close(): Promise<void> {
    for (const svc of this.local.list()) {
      if (svc.status !== "running") continue;
      svc.status = "stopped";
      await withTimeout(svc.instance.cleanup(), 10_000, `cleanup() of "${svc.name}"`);
    }
    await this.cache.close();
  }
}

class StubService extends BaseService {}

function cancellationOf(signal: AbortSignal): Cancellation {
  const cancel = new Cancellation();
  if (signal.aborted) cancel.cancel(signal.reason);
  else signal.addEventListener("abort", () => cancel.cancel(signal.reason), { once: true });
  return cancel;
}

/** Builds the bed: stubs first, then each real service constructed and initialised in order. */
export async function createTestBed(options: TestBedOptions): Promise<TestBed> {
  const nodeId = options.nodeId ?? "test-node";
  const clock = options.clock ?? new FakeClock(0);
  const timeoutMs = options.timeoutMs ?? 30_000;
  const local = new LocalServices();
  const meta = () => ({ role: "worker" as const, version: "test", started_at: 0, services: local.meta() });
  const membership = new SingleNodeMembership(nodeId, "127.0.0.1:0", meta());
  const registry = new ClusterRegistry(membership);
  const cache = new TwoLevelCache({ l1: { clock }, clock });
  const router = new Router({ localId: nodeId, local, registry, clock, metrics: new NodeMetrics(nodeId, false), cache: new MethodCache(cache, nodeId) });
  const bed = new TestBed(clock, router, local, cache, timeoutMs);

  for (const [service, methods] of Object.entries(options.stubs ?? {})) {
    const table = new Map<string, LocalMethod>();
    for (const [method, fn] of Object.entries(methods)) {
      table.set(method, {
        descriptor: { name: method, public: true, idempotent: true },
        validate: null,
        invoke: (params) => {
          bed.calls.push({ service, method, params });
          return fn(params);
        },
      });
    }
    local.add({ name: service, version: "stub", description: "stub", instance: new StubService(), methods: table, status: "running" });
  }
  membership.updateMeta(meta());

  const logger = options.logger ?? silent;
  const contextDeps = { nodeId, router, registry, clock, loggerFor: () => logger, cacheFor: (name: string) => bed.cacheOf(name), defaultTimeoutMs: timeoutMs };
  for (const entry of options.services) {
    const { name, service } = typeof entry === "function" ? { name: entry.SERVICE_NAME, service: entry } : entry;
    if (!name) throw new Error(`${service.name} has no static SERVICE_NAME: pass { name: "...", service: ${service.name} }`);
    local.add(await instantiate(service, name, { logger, lifecycleTimeoutMs: 10_000, contextFor: (info) => createServiceContext(contextDeps, info) }));
    membership.updateMeta(meta());
  }
  return bed;
}
