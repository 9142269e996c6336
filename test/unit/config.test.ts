import { describe, expect, it } from "vitest";
import { buildConfig, ConfigError } from "../../src/config/config.js";

const gen = () => "generated-secret-value-0123456789";

describe("config", () => {
  it("applies the documented defaults per role", () => {
    const c = buildConfig("coordinator", {}, {}, gen);
    expect(c).toMatchObject({ port: 8001, address: "127.0.0.1", advertise: "127.0.0.1", coord: [], servicesDir: "./services", logLevel: "info", bodyLimitBytes: 1048576, rpcTimeoutMs: 30000, rateLimitPerSecond: 0, maxLocalCalls: 256 });
    expect(c.nodeId).toMatch(/^coordinator-.+-8001$/);
    expect(c.logFile).toBe(`logs/${c.nodeId}.log`);
    expect(buildConfig("worker", { nodeId: "w-2" }, {}, gen).logFile).toBe("logs/w-2.log");
    const w = buildConfig("worker", {}, {}, gen);
    expect(w.port).toBe(8002);
    expect(w.coord).toEqual(["127.0.0.1:8001"]);
  });

  it("reads the deployment options: data dir, labels, watch, release key", () => {
    expect(buildConfig("worker", {}, {}, gen)).toMatchObject({ dataDir: "./data", labels: {}, watch: false, releaseKeyFile: undefined });
    const env = { P2P_DATA_DIR: "/var/p2p", P2P_LABELS: "zone=eu,gpu=yes", P2P_WATCH: "1", P2P_RELEASE_KEY: "/etc/key.pem" };
    expect(buildConfig("worker", {}, env, gen)).toMatchObject({ dataDir: "/var/p2p", labels: { zone: "eu", gpu: "yes" }, watch: true, releaseKeyFile: "/etc/key.pem" });
    expect(buildConfig("worker", { labels: "zone=us", dataDir: "d" }, env, gen)).toMatchObject({ dataDir: "d", labels: { zone: "us" } });
  });

  it("flags override env, env overrides defaults", () => {
    const env = { P2P_PORT: "9000", P2P_NODE_ID: "from-env", P2P_COORD: "10.0.0.1:8001,10.0.0.2:8001", P2P_LOG_LEVEL: "debug", P2P_REDIS_URL: "redis://127.0.0.1:6379" };
    const fromEnv = buildConfig("worker", {}, env, gen);
    expect(fromEnv).toMatchObject({ port: 9000, nodeId: "from-env", coord: ["10.0.0.1:8001", "10.0.0.2:8001"], logLevel: "debug", redisUrl: "redis://127.0.0.1:6379" });
    const fromFlags = buildConfig("worker", { port: "9100", nodeId: "from-flag", coord: "h:1" }, env, gen);
    expect(fromFlags).toMatchObject({ port: 9100, nodeId: "from-flag", coord: ["h:1"] });
    expect(buildConfig("worker", { verbose: true }, {}, gen).logLevel).toBe("debug");
    expect(buildConfig("worker", { maxLocalCalls: "8" }, { P2P_MAX_LOCAL_CALLS: "16" }, gen).maxLocalCalls).toBe(8);
    expect(buildConfig("worker", {}, { P2P_MAX_LOCAL_CALLS: "16" }, gen).maxLocalCalls).toBe(16);
  });

  it("rejects bad values with one clear line naming the option", () => {
    const bad: [Parameters<typeof buildConfig>[1], Record<string, string>, RegExp][] = [
      [{ port: "0" }, {}, /--port: 0 is out of range/],
      [{ port: "12x" }, {}, /--port: "12x" is not a port number/],
      [{}, { P2P_PORT: "99999" }, /P2P_PORT: 99999 is out of range/],
      [{ address: "localhost" }, {}, /--address: "localhost" is not an IP address/],
      [{ coord: "a:1,b" }, {}, /--coord: "b" is not host:port/],
      [{ nodeId: "bad id" }, {}, /--node-id/],
      [{ redisUrl: "mysql://x" }, {}, /--redis-url/],
      [{ rateLimit: "-1" }, {}, /--rate-limit/],
      [{ maxLocalCalls: "0" }, {}, /--max-local-calls/],
      [{}, { P2P_MAX_LOCAL_CALLS: "lots" }, /P2P_MAX_LOCAL_CALLS/],
      [{}, { P2P_LOG_LEVEL: "loud" }, /P2P_LOG_LEVEL/],
      [{}, { P2P_JWT_SECRET: "short" }, /P2P_JWT_SECRET: must be at least 16/],
      [{ labels: "zone" }, {}, /--labels: "zone" must be key=value/],
      [{ labels: "a=1,a=2" }, {}, /--labels: label "a" given twice/],
      [{}, { P2P_LABELS: "bad key=1" }, /P2P_LABELS/],
      [{}, { P2P_WATCH: "maybe" }, /P2P_WATCH/],
    ];
    for (const [cli, env, message] of bad) {
      expect(() => buildConfig("worker", cli, env, gen)).toThrow(ConfigError);
      expect(() => buildConfig("worker", cli, env, gen)).toThrow(message);
    }
  });

  it("secrets come from the environment; unset ones are generated, never defaulted", () => {
    const dev = buildConfig("coordinator", {}, {}, gen);
    expect(dev.secrets.generated).toEqual(["P2P_JWT_SECRET", "P2P_API_KEY"]);
    expect(dev.secrets.clusterKey).toBeUndefined();
    let n = 0;
    const a = buildConfig("coordinator", {}, {}, () => `secret-${n++}-xxxxxxxxxxxxxxxx`);
    expect(a.secrets.jwtSecret).not.toBe(a.secrets.apiKey);
    const prod = buildConfig("coordinator", {}, { P2P_JWT_SECRET: "j".repeat(32), P2P_API_KEY: "k", P2P_CLIENT_KEY: "c", P2P_CLUSTER_KEY: "ck" }, gen);
    expect(prod.secrets).toMatchObject({ jwtSecret: "j".repeat(32), apiKey: "k", clientKey: "c", clusterKey: "ck", generated: [] });
  });

  it("a node does not list itself among the coordinators to join", () => {
    const c = buildConfig("coordinator", { port: "8001", coord: "127.0.0.1:8001,127.0.0.1:8003" }, {}, gen);
    expect(c.coord).toEqual(["127.0.0.1:8003"]);
  });
});
