/** The public API for service authors: `import { BaseService, serviceMethod } from "p2p-core"`. */
export { BaseService } from "./services/base-service.js";
export type { ServiceContext, ServiceInfo, ServiceLogger, ServicePhase } from "./services/base-service.js";
export { serviceMethod } from "./services/method-options.js";
export type { ServiceMethodOptions, MethodCacheOptions, JsonSchema } from "./services/method-options.js";
export type { CallOptions, ClusterProxy, RemoteMethod, ServiceProxy, ServiceRegistry, TypedClusterProxy, UntypedServiceProxy } from "./services/proxy-types.js";
export type { ServiceCacheApi, CacheSetOptions, InvalidateSelector } from "./services/service-cache-api.js";
export type { ClusterView, ClusterNode } from "./services/cluster-view.js";
export type { MethodCall } from "./rpc/call-scope.js";
export type { BroadcastResult } from "./rpc/broadcast.js";
export { P2PError, ERROR_CODES } from "./errors.js";
export type { ErrorCode, ServiceErrorCode, WireError } from "./errors.js";
