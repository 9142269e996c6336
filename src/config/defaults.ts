/** Every default of the node, documented once. */
export const DEFAULTS = {
  /** Coordinators listen on 8001, workers on 8002: one port number for HTTP (TCP) and gossip (UDP). */
  coordinatorPort: 8001,
  workerPort: 8002,
  /** Bind address; loopback unless the operator opens it. */
  address: "127.0.0.1",
  /** Workers join the coordinator of a default single-machine setup. */
  workerCoord: ["127.0.0.1:8001"],
  servicesDir: "./services",
  /** Deployments, artifacts and the peers last known are kept here across restarts. */
  dataDir: "./data",
  /** Log file of a node: one per node id, so nodes sharing a working directory never mix logs. */
  logFileFor: (nodeId: string) => `logs/${nodeId}.log`,
  logLevel: "info" as const,
  /** Largest accepted request body (a larger body is answered 413 PAYLOAD_TOO_LARGE). */
  bodyLimitBytes: 1024 * 1024,
  /** Deadline of a call without x-p2p-timeout-ms nor a method timeout_ms. */
  rpcTimeoutMs: 30_000,
  /** Largest deadline a client may ask for (one hour). */
  maxRpcTimeoutMs: 3_600_000,
  /** SIGTERM: in-flight calls get this long to finish. */
  shutdownGraceMs: 10_000,
  /** Bound on a service's initialize() and cleanup(). */
  serviceLifecycleTimeoutMs: 10_000,
  /**
   * Service methods a node runs at once (4× as many may queue; beyond, 503). Methods are
   * mostly I/O-bound on one event loop: 256 keeps memory bounded (~15 KB per call in flight)
   * far below anything a healthy workload needs.
   */
  maxLocalCalls: 256,
  /** Lifetime of tokens issued by /auth/token. */
  tokenTtlSeconds: 3600,
} as const;
