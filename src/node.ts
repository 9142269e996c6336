import type { FastifyInstance } from "fastify";
import type { Config } from "./config/config.js";
import { createLogger, flushLogger, type Logger } from "./log.js";
import { systemClock, type Clock } from "./util/clock.js";
import { InflightTracker } from "./util/inflight.js";
import { NodeMetrics } from "./metrics/metrics.js";
import { TokenService } from "./auth/tokens.js";
import { ApiKeys } from "./auth/keys.js";
import { LocalServices } from "./services/local-services.js";
import { loadAllServices, cleanupAllServices } from "./services/bootstrap.js";
import { createProxy } from "./services/proxy.js";
import type { ServiceCacheApi } from "./services/service-cache-api.js";
import { ClusterRegistry } from "./cluster/registry.js";
import { SingleNodeMembership } from "./cluster/local-source.js";
import type { NodeMeta } from "./cluster/types.js";
import { Router } from "./rpc/router.js";
import { buildApp } from "./api/app.js";
import { UpgradeRouter } from "./transport/upgrade.js";
import { VERSION } from "./version.js";
import { P2PError } from "./errors.js";

export interface NodeOptions {
  logger?: Logger;
  clock?: Clock;
}

type NodeState = "starting" | "running" | "draining" | "stopped";

/** The composition root: builds every layer from one Config, starts them, stops them in order. */
export class P2PNode {
  readonly config: Config;
  readonly logger: Logger;
  readonly metrics: NodeMetrics;
  readonly local = new LocalServices();
  readonly inflight = new InflightTracker();
  readonly upgrades = new UpgradeRouter();
  readonly registry: ClusterRegistry;
  readonly router: Router;
  private readonly clock: Clock;
  private readonly membership: SingleNodeMembership;
  private readonly startedAt = Date.now();
  private state: NodeState = "starting";
  private appInstance: FastifyInstance | null = null;

  constructor(config: Config, options: NodeOptions = {}) {
    this.config = config;
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? createLogger({ nodeId: config.nodeId, level: config.logLevel, file: config.logFile });
    this.metrics = new NodeMetrics(config.nodeId);
    this.membership = new SingleNodeMembership(config.nodeId, `${config.advertise}:${config.port}`, this.meta());
    this.registry = new ClusterRegistry(this.membership);
    this.router = new Router({ localId: config.nodeId, local: this.local, registry: this.registry, clock: this.clock, metrics: this.metrics });
  }

  get app(): FastifyInstance {
    if (!this.appInstance) throw new Error("node not started");
    return this.appInstance;
  }

  get draining(): boolean {
    return this.state === "draining" || this.state === "stopped";
  }

  /** What this node gossips about itself. */
  meta(): NodeMeta {
    return { role: this.config.role, version: VERSION, started_at: this.startedAt, services: this.local.meta(), load: { inflight: this.inflight.size, lag_ms: 0 } };
  }

  async start(listen = true): Promise<void> {
    const { config, logger } = this;
    await loadAllServices({
      local: this.local,
      servicesDir: config.servicesDir,
      builtin: config.builtinServices,
      logger,
      lifecycleTimeoutMs: config.serviceLifecycleTimeoutMs,
      contextFor: (info) => {
        const { proxy, proxyFor } = createProxy(this.router, this.clock, info.name, config.rpcTimeoutMs);
        return {
          nodeId: config.nodeId,
          logger: logger.child({ service: info.name }),
          cache: this.serviceCache(info.name),
          info,
          proxy,
          proxyFor,
        };
      },
    });
    this.membership.updateMeta(this.meta());

    const tokens = new TokenService(config.secrets.jwtSecret);
    const keys = new ApiKeys(config.secrets.apiKey, config.secrets.clientKey);
    this.appInstance = await buildApp({
      config,
      tokens,
      keys,
      router: this.router,
      registry: this.registry,
      local: this.local,
      metrics: this.metrics,
      logger,
      inflight: this.inflight,
      clock: this.clock,
      health: { degradedReasons: () => [] },
      isDraining: () => this.draining,
      startedAt: this.startedAt,
      invalidateCache: async () => 0,
    });
    this.appInstance.server.on("upgrade", this.upgrades.handle);
    if (listen) await this.appInstance.listen({ host: config.address, port: config.port });
    this.state = "running";
    logger.info({ address: `${config.address}:${config.port}`, role: config.role, services: this.local.list().map((s) => s.name) }, "node started");
  }

  /** Graceful stop: refuse new calls, let in-flight ones finish (bounded), leave, clean up, close. */
  async stop(): Promise<void> {
    if (this.state === "draining" || this.state === "stopped") return;
    const wasRunning = this.state === "running";
    this.state = "draining";
    const { logger, config } = this;
    if (wasRunning) {
      logger.info({ inflight: this.inflight.size }, "draining: new calls refused, waiting for calls in flight");
      const idle = await this.inflight.idle(config.shutdownGraceMs);
      if (!idle) logger.warn({ inflight: this.inflight.size }, "calls still in flight after the grace period");
    }
    await cleanupAllServices(this.local, logger, config.serviceLifecycleTimeoutMs);
    if (this.appInstance) await this.appInstance.close();
    this.state = "stopped";
    logger.info("node stopped");
    await flushLogger(logger);
  }

  private serviceCache(_service: string): ServiceCacheApi {
    const unavailable = async (): Promise<never> => {
      throw new P2PError("UNAVAILABLE", "cache not configured");
    };
    return { get: unavailable, set: unavailable, del: unavailable, invalidate: unavailable };
  }
}
