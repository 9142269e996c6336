import type { FastifyInstance } from "fastify";
import type { Config } from "./config/config.js";
import { createLogger, flushLogger, type Logger } from "./log.js";
import { systemClock, type Clock, type Timer } from "./util/clock.js";
import { systemRandom } from "./util/random.js";
import { InflightTracker } from "./util/inflight.js";
import { LoopLag } from "./util/loop-lag.js";
import { IdleHeapTrim, trimLogFields } from "./util/idle-heap-trim.js";
import { TimerQueue } from "./util/timer-queue.js";
import { NodeMetrics } from "./metrics/metrics.js";
import { TokenService } from "./auth/tokens.js";
import { ApiKeys } from "./auth/keys.js";
import { Keyring } from "./security/keyring.js";
import { LocalServices } from "./services/local-services.js";
import { loadAllServices, cleanupAllServices } from "./services/bootstrap.js";
import { createServiceContext, type ServiceContextDeps } from "./services/service-context.js";
import { ClusterRegistry } from "./cluster/registry.js";
import { GossipMembership } from "./cluster/gossip-membership.js";
import { PeerStore } from "./cluster/peer-store.js";
import type { NodeMeta } from "./cluster/types.js";
import { Router } from "./rpc/router.js";
import { LocalLimiter } from "./rpc/local-limiter.js";
import { ClusterCaller } from "./rpc/remote-caller.js";
import { createPipelineDeps, forgetNode, type PipelineDeps } from "./rpc/pipeline.js";
import { BALANCER_NAMES, createBalancer } from "./rpc/balancers/index.js";
import type { BalancerName } from "./rpc/balancers/types.js";
import { RpcClientMetrics } from "./rpc/rpc-metrics.js";
import { MemberHealth } from "./rpc/member-health.js";
import { PeerLinkPool, PeerLinkServer } from "./transport/peer-link/index.js";
import { createLinkHandler } from "./rpc/link-handler.js";
import { NodeCache } from "./cache/node-cache.js";
import type { InvalidationSelector } from "./cache/cache.js";
import { buildApp, closeApp } from "./api/app.js";
import { P2PError } from "./errors.js";
import { UpgradeRouter } from "./transport/upgrade.js";
import { VERSION } from "./version.js";
import { EventBus } from "./events/bus.js";
import { MembershipEventPublisher } from "./events/membership-events.js";
import { DeployManager, DEPLOY_OPERATIONS } from "./deploy/manager.js";
import { NodeObserver, SNAPSHOT_OPERATION } from "./observe/node-observer.js";
import { SCHEMAS_OPERATION, ServiceCatalogue } from "./observe/service-catalogue.js";
import { ServiceHost, type HostSpec } from "./deploy/service-host.js";
import { HotReloader } from "./services/hot-reload.js";
import { NodeTls } from "./identity/node-tls.js";
import { CertificateProofs } from "./identity/liveness-proofs.js";
import { audit } from "./audit/audit.js";
import { BadInputLog } from "./api/bad-input-log.js";
import type { Server as TlsServer } from "node:tls";

export interface NodeOptions {
  logger?: Logger;
  clock?: Clock;
}

type NodeState = "starting" | "running" | "draining" | "stopped";

/** How often this node checks whether its load (in-flight calls, event-loop lag) moved. */
const LOAD_REPORT_MS = 5_000;
/**
 * Load announcements are gossiped to every member, so their rate is capped per node at one
 * per max(10 s, N × 200 ms): cluster-wide that is at most 5 updates a second whatever N, which
 * keeps per-member gossip flat. Balancers rely on their own fresher observations (EWMA latency,
 * in-flight per target); the gossiped load is a coarse hint for operators and dashboards.
 */
const LOAD_ANNOUNCE_MIN_MS = 10_000;
const LOAD_ANNOUNCE_PER_MEMBER_MS = 200;
/** Bound on announcing a graceful leave. */
const LEAVE_TIMEOUT_MS = 2_000;
/** After the grace, calls still running are answered 503; this long is left to send those answers. */
const CUT_ANSWER_MS = 1_000;
/** Bound on closing the HTTP server once everything else stopped (then every socket is cut). */
const HTTP_CLOSE_MS = 1_000;
/** A certificate expiring sooner than this makes /health say degraded. */
const CERT_WARNING_MS = 7 * 86_400_000;

/** The composition root: builds every layer from one Config, starts them, stops them in order. */
export class P2PNode {
  readonly config: Config;
  readonly logger: Logger;
  readonly metrics: NodeMetrics;
  readonly local = new LocalServices();
  readonly inflight: InflightTracker;
  readonly upgrades = new UpgradeRouter();
  readonly membership: GossipMembership;
  readonly registry: ClusterRegistry;
  readonly router: Router;
  /** Membership, leader, service, deployment and metrics events of this node. */
  readonly events = new EventBus();
  readonly deploy: DeployManager;
  private cacheInstance: NodeCache | null = null;
  private readonly clock: Clock;
  private readonly keyring: Keyring;
  private readonly pool: PeerLinkPool;
  private readonly linkServer: PeerLinkServer;
  private readonly pipelines: Record<BalancerName, PipelineDeps>;
  private readonly caller: ClusterCaller;
  private readonly memberEvents: MembershipEventPublisher;
  /** Live figures: per-method windows, process figures, the cluster-wide gather. */
  readonly observer: NodeObserver;
  /** Services of the whole cluster with their methods and params schemas. */
  readonly catalogue: ServiceCatalogue;
  private readonly startedAt = Date.now();
  private readonly loopLag = new LoopLag(50);
  /** Gives the heap's slack back to the system when the node goes quiet. */
  private heapTrim: IdleHeapTrim | null = null;
  private loadTimer: Timer | null = null;
  private lastLoad = { inflight: 0, lag_ms: 0 };
  private lastLoadAnnouncedAt = Number.NEGATIVE_INFINITY;
  private state: NodeState = "starting";
  private readonly fatalListeners = new Set<(message: string) => void>();
  private appInstance: FastifyInstance | null = null;
  private hotReload: HotReloader | null = null;
  /** Node certificate, key and cluster CAs (null: no TLS, the cluster key alone). */
  readonly tls: NodeTls | null;
  /** Node streams refused for their certificate, logged once per source per interval. */
  private readonly refusedStreams: BadInputLog;

  constructor(config: Config, options: NodeOptions = {}) {
    this.config = config;
    this.clock = options.clock ?? systemClock;
    this.inflight = new InflightTracker(this.clock);
    this.logger = options.logger ?? createLogger({ nodeId: config.nodeId, level: config.logLevel, file: config.logFile });
    this.metrics = new NodeMetrics(config.nodeId);
    this.keyring = Keyring.fromSecret(config.secrets.clusterKey);
    this.tls = config.tls ? NodeTls.load(config.tls, config.nodeId) : null;
    this.refusedStreams = new BadInputLog({ logger: this.logger, clock: this.clock, message: "node stream refused: no valid node certificate of the cluster CA" });
    if (this.tls) this.upgrades.requireCertificates(this.tls, (source, reason) => this.refusedStreams.note(source, "certificate", { reason }));
    this.membership = new GossipMembership({
      nodeId: config.nodeId,
      bindAddress: config.address,
      port: config.port,
      advertise: config.advertise,
      seeds: config.coord,
      keyring: this.keyring,
      upgrades: this.upgrades,
      metrics: this.metrics,
      logger: this.logger,
      clock: this.clock,
      peerStore: new PeerStore(config.dataDir, config.nodeId),
      security: this.tls ?? undefined,
      proofs: this.tls ? new CertificateProofs(this.tls) : undefined,
      onNameConflict: ({ name, address, seed }) =>
        this.fatal(`node id "${name}" is already in use by a live node at ${address} (join refused by ${seed}); choose another --node-id`),
    });
    this.registry = new ClusterRegistry(this.membership);
    // Per-call timers (deadlines, hedges, the link's backstops, execution slots) on one Clock timer.
    const callTimers = new TimerQueue(this.clock);
    this.pool = new PeerLinkPool({ nodeId: config.nodeId, keyring: this.keyring, logger: this.logger.child({ component: "link" }), clock: callTimers, security: this.tls ?? undefined });
    // One pipeline per balancing strategy, all sharing stats, breakers, bulkheads and health.
    const health = new MemberHealth(this.registry, (nodeId) => shared.breakers.confirmAlive(nodeId));
    const shared = createPipelineDeps({ clock: callTimers, random: systemRandom, health });
    this.membership.onChange(() => health.update());
    this.pipelines = Object.fromEntries(
      BALANCER_NAMES.map((name) => [name, { ...shared, balancer: createBalancer(name, { random: systemRandom, stats: shared.stats }) }]),
    ) as Record<BalancerName, PipelineDeps>;
    const clientMetrics = new RpcClientMetrics(this.metrics, shared.breakers);
    this.observer = new NodeObserver({
      localId: config.nodeId,
      clock: this.clock,
      registry: this.metrics.registry,
      members: () => this.registry.members(),
      fetchSnapshot: (member, timeoutMs) => this.caller.callInternal(member, SNAPSHOT_OPERATION, {}, config.nodeId, timeoutMs),
      events: this.events,
      inflight: () => this.inflight.size,
      loopLagMs: () => this.loopLag.meanMs(),
      startedAt: this.startedAt,
    });
    this.metrics.attachWindows(this.observer.windows);
    this.catalogue = new ServiceCatalogue({
      localId: config.nodeId,
      registry: this.registry,
      local: this.local,
      fetchSchemas: (member, service, timeoutMs) => this.caller.callInternal(member, SCHEMAS_OPERATION, { service }, config.nodeId, timeoutMs),
    });
    // The timers every call arms and cancels (its deadline, its execution slot's cap) share one Clock timer.
    const localLimiter = new LocalLimiter({ maxRunning: config.maxLocalCalls, maxQueued: 4 * config.maxLocalCalls }, callTimers);
    this.caller = new ClusterCaller({ pool: this.pool, pipelines: this.pipelines, defaultBalancer: "least-latency", registry: this.registry, clock: callTimers, metrics: clientMetrics });
    this.router = new Router({ localId: config.nodeId, local: this.local, registry: this.registry, clock: callTimers, metrics: this.metrics, isDraining: () => this.draining, localLimiter, remote: this.caller });
    this.linkServer = new PeerLinkServer({
      nodeId: config.nodeId,
      clock: callTimers,
      keyring: this.keyring,
      pool: this.pool, // one two-way link per pair of nodes
      knownAddress: (nodeId) => {
        const member = this.registry.member(nodeId);
        return member && (member.state === "alive" || member.state === "suspect") ? member.address : undefined;
      },
      logger: this.logger.child({ component: "link" }),
      handler: createLinkHandler({
        router: this.router,
        clock: this.clock,
        inflight: this.inflight,
        isDraining: () => this.draining,
        invalidateLocal: (selector) => this.cacheInstance?.bus.deliver(selector) ?? 0,
        operations: {
          [SNAPSHOT_OPERATION]: () => this.observer.snapshot(),
          [SCHEMAS_OPERATION]: (params) => this.catalogue.localSchemas(params),
          ...Object.fromEntries(DEPLOY_OPERATIONS.map((op) => [op, (params: Record<string, unknown>, from: string) => this.deploy.linkOp(op, params, from)])),
        },
      }),
    });
    this.linkServer.attach(this.upgrades);
    // A node that dialled us while we held it dead gets its link used once membership sees it again.
    this.membership.onChange(() => void this.linkServer.adoptVouched());
    this.membership.onDeparture((nodeId) => this.forgetDeparted(nodeId));
    this.membership.onForget((nodeId) => this.forgetDeparted(nodeId));
    this.memberEvents = new MembershipEventPublisher(this.membership, () => this.registry.leader(), this.events);
    this.deploy = new DeployManager({
      nodeId: config.nodeId,
      dataDir: config.dataDir,
      releaseKeyFile: config.releaseKeyFile,
      logger: this.logger,
      clock: this.clock,
      random: systemRandom,
      local: this.local,
      members: () => this.registry.members(),
      onMembersChange: (listener) => this.membership.onChange(listener),
      call: (member, method, params, timeoutMs) => this.caller.callInternal(member, method, params, config.nodeId, timeoutMs),
      startHost: (spec, artifact) => this.hostService(spec, artifact),
      announce: () => this.membership.updateMeta(this.meta()),
      publish: (type, data) => this.events.publish(type, data),
    });
  }

  /** The node cannot go on (e.g. its id is taken): the CLI stops it and exits non-zero with `message`. */
  onFatal(listener: (message: string) => void): void {
    this.fatalListeners.add(listener);
  }

  private fatal(message: string): void {
    this.logger.error(message);
    for (const listener of this.fatalListeners) listener(message);
  }

  get app(): FastifyInstance {
    if (!this.appInstance) throw new Error("node not started");
    return this.appInstance;
  }

  get cache(): NodeCache {
    if (!this.cacheInstance) throw new Error("node not started");
    return this.cacheInstance;
  }

  get draining(): boolean {
    return this.state === "draining" || this.state === "stopped";
  }

  /** What this node gossips about itself. */
  meta(): NodeMeta {
    return { role: this.config.role, version: VERSION, started_at: this.startedAt, services: this.local.meta(), load: this.lastLoad, labels: this.config.labels, ...this.failedMeta(), deployments: this.deploy.reports(), ...(this.tls ? { cert_expires: this.tls.notAfter } : {}) };
  }

  /** Services that failed here, gossiped so every node's /cluster/nodes lists them (with a short reason). */
  private failedMeta(): Pick<NodeMeta, "failed_services"> {
    const failed = this.local.failures();
    return failed.length === 0 ? {} : { failed_services: failed.map((f) => ({ name: f.name, error: f.error.slice(0, 200) })) };
  }

  async start(): Promise<void> {
    const { config, logger } = this;
    this.cacheInstance = await NodeCache.create(config, this.metrics, logger, (selector) => this.sendInvalidation(selector));
    this.router.setCache(this.cacheInstance);
    await this.deploy.init();
    const folders = await loadAllServices({
      local: this.local,
      servicesDir: config.servicesDir,
      strictLoad: config.strictLoad,
      builtin: config.builtinServices,
      logger,
      lifecycleTimeoutMs: config.serviceLifecycleTimeoutMs,
      contextFor: (info) => createServiceContext(this.serviceContextDeps(), info),
    });
    this.appInstance = await buildApp({
      config,
      tokens: new TokenService(config.secrets.jwtSecret),
      keys: new ApiKeys(config.secrets.apiKey, config.secrets.clientKey),
      router: this.router,
      registry: this.registry,
      local: this.local,
      metrics: this.metrics,
      logger,
      inflight: this.inflight,
      clock: this.clock,
      health: { degradedReasons: () => this.degradedReasons() },
      events: this.events,
      clusterMetrics: () => this.observer.gather(),
      catalogue: this.catalogue,
      isDraining: () => this.draining,
      startedAt: this.startedAt,
      invalidateCache: (selector) => this.cache.invalidateEverywhere(selector),
      deploy: this.deploy,
      tls: this.tls ?? undefined,
    });
    this.appInstance.server.on("upgrade", this.upgrades.handle);
    this.refusedStreams.start();
    await this.membership.start(this.meta());
    this.deploy.start();
    if (config.watch) {
      this.hotReload = new HotReloader({
        nodeId: config.nodeId,
        servicesDir: config.servicesDir,
        local: this.local,
        folders,
        startHost: (spec) => this.hostService(spec),
        announce: () => this.membership.updateMeta(this.meta()),
        publish: (type, data) => this.events.publish(type, data),
        logger,
        clock: this.clock,
        lifecycleTimeoutMs: config.serviceLifecycleTimeoutMs,
        graceMs: config.shutdownGraceMs,
      });
      this.hotReload.start();
    }
    this.memberEvents.start();
    for (const f of this.local.failures()) this.events.publish("service", { node_id: config.nodeId, service: f.name, status: "failed", error: f.error });
    this.observer.start();
    await this.appInstance.listen({ host: config.address, port: config.port });
    this.loopLag.start();
    this.loadTimer = this.clock.setInterval(() => this.reportLoad(), LOAD_REPORT_MS);
    this.heapTrim = new IdleHeapTrim({ clock: this.clock, onTrim: (report) => logger.info(trimLogFields(report), "heap trimmed") });
    this.heapTrim.start();
    this.state = "running";
    const tls = this.tls ? { tls: true, cert_expires: new Date(this.tls.notAfter).toISOString() } : { tls: false };
    logger.info({ address: `${config.advertise}:${config.port}`, role: config.role, services: this.local.list().map((s) => s.name), seeds: config.coord, encrypted: this.keyring.encrypted, ...tls }, "node started");
  }

  /** Why the node is degraded: a cache level down, services that failed to load or initialise, a certificate about to expire. */
  private degradedReasons(): string[] {
    const reasons = this.local.failures().map((f) => `service ${f.name} failed: ${f.error}`);
    const cache = this.cacheInstance?.degradedReason();
    return [...(cache ? [cache] : []), ...reasons, ...this.certificateReasons()];
  }

  private certificateReasons(): string[] {
    if (!this.tls) return [];
    const now = Date.now();
    return this.tls
      .expiries()
      .filter((e) => e.notAfter - now < CERT_WARNING_MS)
      .map((e) => (e.notAfter <= now ? `${e.what} expired at ${new Date(e.notAfter).toISOString()}` : `${e.what} expires in ${Math.floor((e.notAfter - now) / 3_600_000)} h (${new Date(e.notAfter).toISOString()}): issue a new one and send SIGHUP`));
  }

  /**
   * Re-reads the certificate files (SIGHUP): new connections, HTTPS and between nodes, use the
   * new certificate and CAs; open connections and calls on them go on. A file that does not
   * check out leaves the current certificates in place (the error is logged and thrown).
   */
  reloadCertificates(): void {
    if (!this.tls) return;
    try {
      this.tls.reload();
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      audit(this.logger, { sub: "signal:SIGHUP" }, "certificates.reload", { ok: false, reason });
      this.logger.error({ err: reason }, "certificate reload failed: keeping the current certificates");
      throw err;
    }
    (this.appInstance?.server as unknown as TlsServer | undefined)?.setSecureContext(this.tls.serverOptions());
    audit(this.logger, { sub: "signal:SIGHUP" }, "certificates.reload", { ok: true, cert_expires: new Date(this.tls.notAfter).toISOString(), cas: this.tls.cas.length });
    this.logger.info({ cert_expires: new Date(this.tls.notAfter).toISOString(), cas: this.tls.cas.length }, "certificates reloaded");
    if (this.state === "running") this.membership.updateMeta(this.meta());
  }

  /** Graceful stop: refuse new calls, let in-flight ones finish (bounded), leave, clean up, close. */
  async stop(): Promise<void> {
    if (this.draining) return;
    const wasRunning = this.state === "running";
    this.state = "draining";
    const { logger, config } = this;
    this.loadTimer?.cancel();
    this.heapTrim?.stop();
    this.loopLag.stop();
    if (wasRunning) {
      logger.info({ inflight: this.inflight.size }, "draining: new calls go to other nodes, waiting for calls in flight");
      const idle = await this.inflight.idle(config.shutdownGraceMs);
      if (!idle) {
        logger.warn({ inflight: this.inflight.size }, "calls still in flight after the grace period: answering them 503");
        this.inflight.cut(new P2PError("UNAVAILABLE", `node ${config.nodeId} shut down before the call finished`, { reason: "shutdown" }));
        await this.inflight.idle(CUT_ANSWER_MS);
      }
      await this.membership.leave(LEAVE_TIMEOUT_MS);
    }
    this.hotReload?.stop();
    await this.deploy.stop();
    await cleanupAllServices(this.local, logger, config.serviceLifecycleTimeoutMs);
    await this.pool.close();
    await this.linkServer.close();
    await this.cacheInstance?.close().catch(() => undefined);
    this.memberEvents.stop();
    this.observer.stop();
    this.refusedStreams.stop();
    await this.membership.shutdown();
    if (this.appInstance) await closeApp(this.appInstance, this.clock, HTTP_CLOSE_MS);
    this.state = "stopped";
    logger.info("node stopped");
    await flushLogger(logger);
  }

  private serviceContextDeps(): ServiceContextDeps {
    return {
      nodeId: this.config.nodeId,
      router: this.router,
      registry: this.registry,
      clock: this.clock,
      loggerFor: (service) => this.logger.child({ service }),
      cacheFor: (service) => this.cache.forService(service),
      defaultTimeoutMs: this.config.rpcTimeoutMs,
    };
  }

  /** Starts a service in its own thread, with the same context a static service gets. */
  private hostService(spec: HostSpec, artifact?: string): Promise<ServiceHost> {
    const context = createServiceContext(this.serviceContextDeps(), { name: spec.name, version: "", description: "" });
    return ServiceHost.start(
      spec,
      { nodeId: this.config.nodeId, lifecycleTimeoutMs: this.config.serviceLifecycleTimeoutMs, context, clock: this.clock, logger: this.logger.child({ service: spec.name }), onClusterChange: (l) => this.membership.onChange(l) },
      artifact,
    );
  }

  /** Sends a cache invalidation to every other alive node over the peer link (best effort); what each dropped. */
  private async sendInvalidation(selector: InvalidationSelector): Promise<Record<string, number>> {
    const others = this.registry.members().filter((m) => m.nodeId !== this.config.nodeId && m.state === "alive");
    const answers = await Promise.all(
      others.map(async (m) => {
        try {
          const answer = (await this.caller.callInternal(m, "cache_invalidate", { selector }, this.config.nodeId, 1000)) as { dropped?: unknown } | null;
          return [m.nodeId, typeof answer?.dropped === "number" ? answer.dropped : 0] as const;
        } catch (err) {
          this.logger.warn({ peer: m.nodeId, err: err instanceof Error ? err.message : String(err) }, "cache invalidation not delivered");
          return null;
        }
      }),
    );
    return Object.fromEntries(answers.filter((a) => a !== null));
  }

  /** Re-announces load when it moved enough to matter to balancers elsewhere. */
  private reportLoad(): void {
    const load = { inflight: this.inflight.size, lag_ms: Math.round(this.loopLag.meanMs()) };
    this.loopLag.reset();
    if (Math.abs(load.inflight - this.lastLoad.inflight) < 5 && Math.abs(load.lag_ms - this.lastLoad.lag_ms) < 20) return;
    const minInterval = Math.max(LOAD_ANNOUNCE_MIN_MS, this.registry.members().length * LOAD_ANNOUNCE_PER_MEMBER_MS);
    if (this.clock.now() - this.lastLoadAnnouncedAt < minInterval) return;
    this.lastLoad = load;
    this.lastLoadAnnouncedAt = this.clock.now();
    this.membership.updateMeta(this.meta());
  }

  /** A node left or died: close its link and drop what the pipeline remembers of it. */
  private forgetDeparted(nodeId: string): void {
    this.pool.drop(nodeId);
    this.caller.forget(nodeId);
    // Every strategy's pipeline shares the same stats, breakers and bulkheads.
    forgetNode(this.pipelines["least-latency"], nodeId);
  }
}
