/** The cache module: build one TwoLevelCache per node with createNodeCache. */

export * from "./cache.js";
export { CompositeBus, MemoryBusNetwork, RedisInvalidationBus, type InvalidationBus, type InvalidationHandler } from "./invalidation.js";
export { MemoryCache, type MemoryCacheOptions } from "./memory.js";
export { RedisCache, type LockResult, type RedisCacheOptions, type RedisStatus } from "./redis.js";
export { createRedisClient, parseClusterNodes, type RedisClient, type RedisTarget } from "./redis-client.js";
export { ServiceCache, type ServiceInvalidation, type ServiceSetOptions } from "./service-cache.js";
export { TwoLevelCache, type TwoLevelCacheOptions } from "./two-level.js";

export { createNodeCache, type NodeCacheOptions } from "./create.js";
