import { hostname } from "node:os";
import { isIP } from "node:net";
import { readFileSync } from "node:fs";
import { X509Certificate } from "node:crypto";
import { DEFAULTS } from "./defaults.js";
import { nodeIdOf } from "../identity/node-id.js";
import type { TlsFiles } from "../identity/node-tls.js";

export type Role = "coordinator" | "worker";
export type LogLevel = "debug" | "info" | "warn" | "error";

export interface Secrets {
  jwtSecret: string;
  apiKey: string;
  clientKey: string | undefined;
  /** Comma-separated keyring; undefined = unencrypted gossip (development). */
  clusterKey: string | undefined;
  /** Names of the secrets that were generated because they were unset. */
  generated: string[];
}

export interface Config {
  role: Role;
  nodeId: string;
  port: number;
  address: string;
  advertise: string;
  coord: string[];
  redisUrl: string | undefined;
  servicesDir: string;
  logFile: string;
  logLevel: LogLevel;
  bodyLimitBytes: number;
  rpcTimeoutMs: number;
  maxRpcTimeoutMs: number;
  shutdownGraceMs: number;
  serviceLifecycleTimeoutMs: number;
  tokenTtlSeconds: number;
  /** RPC calls per second allowed per caller (0 = unlimited). */
  rateLimitPerSecond: number;
  /** Service methods this node runs at once; as many again ×4 may wait, the rest get 503. */
  maxLocalCalls: number;
  secrets: Secrets;
  /** Whether bundled built-in services (system) run. */
  builtinServices: boolean;
  /** The node's persistent state: deployments, artifacts, the peers it last knew. */
  dataDir: string;
  /** key=value pairs describing the node; gossiped, used by placement. */
  labels: Record<string, string>;
  /** Reload a service of servicesDir when its files change. */
  watch: boolean;
  /** Type-check servicesDir before loading; skip services with type errors. */
  strictLoad: boolean;
  /** Ed25519 public key (PEM file path): only artifacts signed by it run here. */
  releaseKeyFile: string | undefined;
  /** Node certificate, key and cluster CA(s): HTTPS on the port and mutual TLS between nodes. */
  tls: TlsFiles | undefined;
}

/** What the command line gave (undefined = not given). */
export interface CliOptions {
  nodeId?: string;
  port?: string;
  address?: string;
  advertise?: string;
  coord?: string;
  redisUrl?: string;
  servicesDir?: string;
  logFile?: string;
  rateLimit?: string;
  maxLocalCalls?: string;
  verbose?: boolean;
  dataDir?: string;
  labels?: string;
  watch?: boolean;
  releaseKey?: string;
  strictLoad?: boolean;
  tlsCert?: string;
  tlsKey?: string;
  /** Comma list of CA files (or given several times). */
  tlsCa?: string | string[];
  apiTlsCert?: string;
  apiTlsKey?: string;
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

export type Env = Readonly<Record<string, string | undefined>>;

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === "" ? undefined : value.trim();
}

export function parsePort(value: string, what: string): number {
  if (!/^\d+$/.test(value)) throw new ConfigError(`${what}: "${value}" is not a port number (1-65535)`);
  const port = Number(value);
  if (port < 1 || port > 65535) throw new ConfigError(`${what}: ${port} is out of range (1-65535)`);
  return port;
}

export function parseHostPort(value: string, what: string): string {
  const idx = value.lastIndexOf(":");
  const host = idx > 0 ? value.slice(0, idx) : "";
  if (!host || !/^[A-Za-z0-9.\-\[\]:]+$/.test(host)) throw new ConfigError(`${what}: "${value}" is not host:port`);
  parsePort(value.slice(idx + 1), `${what} "${value}"`);
  return value;
}

function parseCoordList(value: string, what: string): string[] {
  const list = value
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (list.length === 0) throw new ConfigError(`${what}: empty list`);
  return list.map((entry) => parseHostPort(entry, what));
}

function parseAddress(value: string, what: string): string {
  if (isIP(value) === 0) throw new ConfigError(`${what}: "${value}" is not an IP address`);
  return value;
}

function parseNodeId(value: string, what: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/.test(value)) {
    throw new ConfigError(`${what}: "${value}" must be 1-128 characters of letters, digits, . _ : -`);
  }
  return value;
}

function parseRedisUrl(value: string, what: string): string {
  if (!/^(rediss?|redis\+cluster):\/\//.test(value)) {
    throw new ConfigError(`${what}: "${value}" must start with redis://, rediss:// or redis+cluster://`);
  }
  return value;
}

const LABEL_KEY = /^[A-Za-z0-9][A-Za-z0-9._\/-]{0,62}$/;
const LABEL_VALUE = /^[A-Za-z0-9._:\/-]{0,63}$/;

/** `key=value,...` → a map; keys and values are short identifiers (they travel in gossip). */
export function parseLabels(value: string, what: string): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const part of value.split(",").map((s) => s.trim()).filter((s) => s.length > 0)) {
    const eq = part.indexOf("=");
    const key = eq > 0 ? part.slice(0, eq).trim() : "";
    const val = eq > 0 ? part.slice(eq + 1).trim() : "";
    if (!LABEL_KEY.test(key) || !LABEL_VALUE.test(val)) throw new ConfigError(`${what}: "${part}" must be key=value (letters, digits, . _ / - :)`);
    if (key in labels) throw new ConfigError(`${what}: label "${key}" given twice`);
    labels[key] = val;
  }
  if (Object.keys(labels).length > 32) throw new ConfigError(`${what}: at most 32 labels`);
  return labels;
}

const LOG_LEVELS: readonly LogLevel[] = ["debug", "info", "warn", "error"];

/** Flags override env; env overrides defaults. Throws ConfigError with one clear line. */
export function buildConfig(role: Role, cli: CliOptions, env: Env, generateSecret: () => string): Config {
  const pick = (flag: string | undefined, envName: string): { value: string; source: string } | undefined => {
    if (flag !== undefined) return { value: flag, source: "option" };
    const fromEnv = nonEmpty(env[envName]);
    return fromEnv === undefined ? undefined : { value: fromEnv, source: envName };
  };

  const portIn = pick(cli.port, "P2P_PORT");
  const port = portIn
    ? parsePort(portIn.value, portIn.source === "option" ? "--port" : portIn.source)
    : role === "coordinator"
      ? DEFAULTS.coordinatorPort
      : DEFAULTS.workerPort;
  const addressIn = pick(cli.address, "P2P_ADDRESS");
  const address = addressIn ? parseAddress(addressIn.value, label(addressIn.source, "--address")) : DEFAULTS.address;
  const advertiseIn = pick(cli.advertise, "P2P_ADVERTISE");
  const advertise = advertiseIn ? advertiseIn.value : address === "0.0.0.0" || address === "::" ? "127.0.0.1" : address;
  if (!/^[A-Za-z0-9.\-:]+$/.test(advertise)) throw new ConfigError(`--advertise: "${advertise}" is not a host`);
  const tls = parseTls(cli, pick);
  const nodeIdIn = pick(cli.nodeId, "P2P_NODE_ID");
  const nodeId = nodeIdIn
    ? parseNodeId(nodeIdIn.value, label(nodeIdIn.source, "--node-id"))
    : tls
      ? certificateNodeId(tls.certFile)
      : `${role}-${hostname().replace(/[^A-Za-z0-9._-]/g, "-")}-${port}`;
  const coordIn = pick(cli.coord, "P2P_COORD");
  const coord = coordIn
    ? parseCoordList(coordIn.value, label(coordIn.source, "--coord"))
    : role === "worker"
      ? [...DEFAULTS.workerCoord]
      : [];
  const redisIn = pick(cli.redisUrl, "P2P_REDIS_URL");
  const redisUrl = redisIn ? parseRedisUrl(redisIn.value, label(redisIn.source, "--redis-url")) : undefined;
  const servicesDir = pick(cli.servicesDir, "P2P_SERVICES_DIR")?.value ?? DEFAULTS.servicesDir;
  const logFile = pick(cli.logFile, "P2P_LOG_FILE")?.value ?? DEFAULTS.logFileFor(nodeId);

  const rateIn = pick(cli.rateLimit, "P2P_RATE_LIMIT");
  let rateLimitPerSecond = 0;
  if (rateIn) {
    if (!/^\d{1,7}$/.test(rateIn.value)) throw new ConfigError(`${label(rateIn.source, "--rate-limit")}: "${rateIn.value}" must be a whole number of calls per second (0 = unlimited)`);
    rateLimitPerSecond = Number(rateIn.value);
  }
  const localIn = pick(cli.maxLocalCalls, "P2P_MAX_LOCAL_CALLS");
  let maxLocalCalls: number = DEFAULTS.maxLocalCalls;
  if (localIn) {
    if (!/^\d{1,6}$/.test(localIn.value) || Number(localIn.value) < 1) throw new ConfigError(`${label(localIn.source, "--max-local-calls")}: "${localIn.value}" must be a whole number of calls, at least 1`);
    maxLocalCalls = Number(localIn.value);
  }

  const dataDir = pick(cli.dataDir, "P2P_DATA_DIR")?.value ?? DEFAULTS.dataDir;
  const labelsIn = pick(cli.labels, "P2P_LABELS");
  const labels = labelsIn ? parseLabels(labelsIn.value, label(labelsIn.source, "--labels")) : {};
  const watchEnv = nonEmpty(env.P2P_WATCH);
  if (watchEnv !== undefined && !["0", "1", "true", "false"].includes(watchEnv)) throw new ConfigError(`P2P_WATCH: "${watchEnv}" must be 1 or 0`);
  const watch = cli.watch === true || watchEnv === "1" || watchEnv === "true";
  const releaseKeyFile = pick(cli.releaseKey, "P2P_RELEASE_KEY")?.value;
  const strictEnv = nonEmpty(env.P2P_STRICT_LOAD);
  if (strictEnv !== undefined && !["0", "1", "true", "false"].includes(strictEnv)) throw new ConfigError(`P2P_STRICT_LOAD: "${strictEnv}" must be 1 or 0`);
  const strictLoad = cli.strictLoad === true || strictEnv === "1" || strictEnv === "true";

  let logLevel: LogLevel = DEFAULTS.logLevel;
  const envLevel = nonEmpty(env.P2P_LOG_LEVEL);
  if (envLevel !== undefined) {
    if (!LOG_LEVELS.includes(envLevel as LogLevel)) {
      throw new ConfigError(`P2P_LOG_LEVEL: "${envLevel}" must be one of ${LOG_LEVELS.join(", ")}`);
    }
    logLevel = envLevel as LogLevel;
  }
  if (cli.verbose) logLevel = "debug";

  return {
    role,
    nodeId,
    port,
    address,
    advertise,
    coord: coord.filter((c) => c !== `${advertise}:${port}`),
    redisUrl,
    servicesDir,
    logFile,
    logLevel,
    bodyLimitBytes: DEFAULTS.bodyLimitBytes,
    rpcTimeoutMs: DEFAULTS.rpcTimeoutMs,
    maxRpcTimeoutMs: DEFAULTS.maxRpcTimeoutMs,
    shutdownGraceMs: DEFAULTS.shutdownGraceMs,
    serviceLifecycleTimeoutMs: DEFAULTS.serviceLifecycleTimeoutMs,
    tokenTtlSeconds: DEFAULTS.tokenTtlSeconds,
    rateLimitPerSecond,
    maxLocalCalls,
    secrets: buildSecrets(env, generateSecret),
    builtinServices: true,
    dataDir,
    labels,
    watch,
    strictLoad,
    releaseKeyFile,
    tls,
  };
}

type Pick = (flag: string | undefined, envName: string) => { value: string; source: string } | undefined;

/** --tls-cert/--tls-key/--tls-ca go together; --api-tls-cert/--api-tls-key together, and only with them. */
function parseTls(cli: CliOptions, pick: Pick): TlsFiles | undefined {
  const cert = pick(cli.tlsCert, "P2P_TLS_CERT");
  const key = pick(cli.tlsKey, "P2P_TLS_KEY");
  const caFlag = Array.isArray(cli.tlsCa) ? cli.tlsCa.join(",") : cli.tlsCa;
  const ca = pick(caFlag, "P2P_TLS_CA");
  const apiCert = pick(cli.apiTlsCert, "P2P_API_TLS_CERT");
  const apiKey = pick(cli.apiTlsKey, "P2P_API_TLS_KEY");
  if (!cert && !key && !ca) {
    if (apiCert || apiKey) throw new ConfigError("--api-tls-cert/--api-tls-key need the node's own --tls-cert, --tls-key and --tls-ca");
    return undefined;
  }
  if (!cert || !key || !ca) throw new ConfigError("--tls-cert, --tls-key and --tls-ca go together (the node certificate, its key and the cluster CA)");
  if (!apiCert !== !apiKey) throw new ConfigError("--api-tls-cert and --api-tls-key go together");
  const caFiles = ca.value.split(",").map((s) => s.trim()).filter((s) => s.length > 0);
  if (caFiles.length === 0) throw new ConfigError(`${label(ca.source, "--tls-ca")}: no file given`);
  return { certFile: cert.value, keyFile: key.value, caFiles, ...(apiCert && apiKey ? { apiCertFile: apiCert.value, apiKeyFile: apiKey.value } : {}) };
}

/** Without --node-id, a node with a certificate is the node its certificate names. */
function certificateNodeId(file: string): string {
  let id: string | null;
  try {
    id = nodeIdOf(new X509Certificate(readFileSync(file)));
  } catch (err) {
    throw new ConfigError(`--tls-cert: cannot read a certificate from ${file}: ${(err as NodeJS.ErrnoException).code ?? (err instanceof Error ? err.message : String(err))}`);
  }
  if (id === null) throw new ConfigError(`--tls-cert: ${file} names no node id (SAN URI p2p://node/<id>); issue it with "p2p ca issue"`);
  return id;
}

function label(source: string, flag: string): string {
  return source === "option" ? flag : source;
}

/** Secrets come from the environment only; unset ones are generated (development mode). */
export function buildSecrets(env: Env, generateSecret: () => string): Secrets {
  const generated: string[] = [];
  const secret = (name: string): string => {
    const value = nonEmpty(env[name]);
    if (value !== undefined) return value;
    generated.push(name);
    return generateSecret();
  };
  const jwtSecret = secret("P2P_JWT_SECRET");
  const apiKey = secret("P2P_API_KEY");
  const clusterKey = nonEmpty(env.P2P_CLUSTER_KEY);
  if (jwtSecret.length < 16 && !generated.includes("P2P_JWT_SECRET")) {
    throw new ConfigError("P2P_JWT_SECRET: must be at least 16 characters");
  }
  return { jwtSecret, apiKey, clientKey: nonEmpty(env.P2P_CLIENT_KEY), clusterKey, generated };
}
