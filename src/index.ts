/** The public API for service authors: `import { BaseService, serviceMethod } from "p2p-core"`. */
export { BaseService } from "./services/base-service.js";
export type { ServiceContext, ServiceInfo, ServiceLogger } from "./services/base-service.js";
export { serviceMethod } from "./services/method-options.js";
export type { ServiceMethodOptions, JsonSchema } from "./services/method-options.js";
export type { CallOptions, ClusterProxy, ServiceProxy, ServiceRegistry, TypedClusterProxy } from "./services/proxy-types.js";
export type { ServiceCacheApi, CacheSetOptions, InvalidateSelector } from "./services/service-cache-api.js";
export { P2PError, ERROR_CODES } from "./errors.js";
export type { ErrorCode, WireError } from "./errors.js";
