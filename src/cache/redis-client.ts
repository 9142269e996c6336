/**
 * Builds ioredis clients tuned so that Redis trouble never makes a caller wait: no offline
 * queue (a command while disconnected fails at once), a short command timeout, and
 * reconnection left to ioredis with a capped backoff.
 */
import { Cluster, Redis, type ClusterNode, type RedisOptions } from "ioredis";

/** `redis://…` (one server), `redis+cluster://h1:p1,h2:p2`, or a list of `host:port` / URLs (a cluster). */
export type RedisTarget = string | readonly string[];
export type RedisClient = Redis | Cluster;

export interface RedisClientOptions {
  /** ioredis commandTimeout (ms). */
  commandTimeoutMs: number;
  connectTimeoutMs?: number;
  /** Longest pause between reconnect attempts (ms). */
  maxRetryDelayMs?: number;
  /** Subscriber connections queue their SUBSCRIBE until connected and resubscribe after a reconnect. */
  subscriber?: boolean;
}

export function isClusterTarget(target: RedisTarget): boolean {
  return typeof target !== "string" || /^rediss?\+cluster:\/\//i.test(target);
}

export function parseClusterNodes(target: RedisTarget): { nodes: ClusterNode[]; username?: string; password?: string; tls: boolean } {
  let list: string[];
  let username: string | undefined;
  let password: string | undefined;
  let tls = false;
  if (typeof target === "string") {
    const match = /^(rediss?)\+cluster:\/\/(?:([^@/]*)@)?([^/?#]*)/i.exec(target);
    if (!match) throw new Error(`not a cluster Redis URL: ${target}`);
    tls = match[1]!.toLowerCase() === "rediss";
    if (match[2]) {
      const [user, pass] = match[2].split(":");
      username = user ? decodeURIComponent(user) : undefined;
      password = pass !== undefined ? decodeURIComponent(pass) : undefined;
    }
    list = match[3]!.split(",");
  } else {
    list = [...target];
  }
  const nodes = list
    .map((item) => item.trim().replace(/^rediss?:\/\//i, "").replace(/\/.*$/, ""))
    .filter((item) => item.length > 0)
    .map((item) => {
      const at = item.lastIndexOf(":");
      const host = at > 0 ? item.slice(0, at) : item;
      const port = at > 0 ? Number(item.slice(at + 1)) : 6379;
      if (!Number.isInteger(port) || port <= 0 || port > 65535) throw new Error(`bad Redis node address: ${item}`);
      return { host: host.replace(/^\[|\]$/g, ""), port };
    });
  if (nodes.length === 0) throw new Error("no Redis cluster nodes given");
  return { nodes, username, password, tls };
}

export function createRedisClient(target: RedisTarget, options: RedisClientOptions): RedisClient {
  const maxDelay = options.maxRetryDelayMs ?? 2_000;
  const retryStrategy = (times: number): number => Math.min(50 * 2 ** Math.min(times, 10), maxDelay);
  const subscriber = options.subscriber === true;
  const common: RedisOptions = {
    // Subscribers have no per-command deadline: SUBSCRIBE may wait for the connection.
    commandTimeout: subscriber ? undefined : options.commandTimeoutMs,
    connectTimeout: options.connectTimeoutMs ?? 1_000,
    enableOfflineQueue: subscriber,
    maxRetriesPerRequest: subscriber ? null : 0,
    retryStrategy,
    autoResubscribe: true,
    lazyConnect: false,
  };
  if (!isClusterTarget(target)) return new Redis(target as string, common);
  const { nodes, username, password, tls } = parseClusterNodes(target);
  return new Cluster(nodes, {
    enableOfflineQueue: subscriber,
    clusterRetryStrategy: retryStrategy,
    redisOptions: { ...common, username, password, ...(tls ? { tls: {} } : {}) },
  });
}

/** Escapes glob metacharacters so a key prefix can be used in SCAN MATCH. */
export function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}
