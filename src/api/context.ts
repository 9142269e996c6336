import type { Config } from "../config/config.js";
import type { TokenService, Caller } from "../auth/tokens.js";
import type { ApiKeys } from "../auth/keys.js";
import type { Router } from "../rpc/router.js";
import type { ClusterRegistry } from "../cluster/registry.js";
import type { LocalServices } from "../services/local-services.js";
import type { NodeMetrics } from "../metrics/metrics.js";
import type { Logger } from "../log.js";
import type { InflightTracker } from "../util/inflight.js";
import type { Clock } from "../util/clock.js";
import type { InvalidationSelector } from "../cache/cache.js";
import type { EventBus } from "../events/bus.js";
import type { DeployManager } from "../deploy/manager.js";
import type { ClusterMetricsBody } from "../observe/cluster-metrics.js";
import type { ServiceCatalogue } from "../observe/service-catalogue.js";
import type { NodeTls } from "../identity/node-tls.js";

/** Who needs a token for a route: nobody, any valid token (client or admin), or admin. */
export type Access = "public" | "client" | "admin";

export interface HealthProbe {
  /** Reasons the node is degraded (e.g. Redis down); empty when all is well. */
  degradedReasons(): string[];
}

/** Everything the HTTP layer reads; built by the node. */
export interface ApiContext {
  config: Config;
  tokens: TokenService;
  keys: ApiKeys;
  router: Router;
  registry: ClusterRegistry;
  local: LocalServices;
  metrics: NodeMetrics;
  logger: Logger;
  inflight: InflightTracker;
  clock: Clock;
  health: HealthProbe;
  /** The node's event bus (membership, deployments, metrics), streamed by /cluster/events. */
  events: EventBus;
  /** Every live node's figures, gathered over the peer link (bounded in time). */
  clusterMetrics(): Promise<ClusterMetricsBody>;
  /** Every service of the cluster with its methods and params schemas (/cluster/services, OpenAPI). */
  catalogue: ServiceCatalogue;
  isDraining(): boolean;
  startedAt: number;
  /** Cluster-wide cache invalidation: entries dropped on every node (sum and per node) and in Redis. */
  invalidateCache(selector: InvalidationSelector): Promise<{ invalidated: number; nodes: Record<string, number>; shared?: number }>;
  /** Artifacts and deployments (absent in tests that build the app alone). */
  deploy?: DeployManager;
  /** With TLS: the API is served over HTTPS with these certificates. */
  tls?: NodeTls;
}

declare module "fastify" {
  interface FastifyContextConfig {
    access?: Access;
    /**
     * The handler checks the request itself: the schema's request parts (params, querystring,
     * headers, body) are for the OpenAPI document only (see registerDocs).
     */
    checkedByHandler?: boolean;
  }
  interface FastifyRequest {
    caller?: Caller;
  }
}
