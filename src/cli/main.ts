import { Command, CommanderError, Option } from "commander";
import { buildConfig, ConfigError, type CliOptions, type Config, type Role } from "../config/config.js";
import { generateSecret } from "../auth/keys.js";
import { TokenService, parseTtl, isRole } from "../auth/tokens.js";
import { VERSION } from "../version.js";
import { newCommand } from "./commands/new.js";
import { checkCommand } from "./commands/check.js";
import { callCommand } from "./commands/call.js";
import { nodesCommand } from "./commands/nodes.js";
import { statusCommand } from "./commands/status.js";
import { servicesCommand } from "./commands/services.js";
import { demoCommand } from "./commands/demo.js";
import { deployCommand } from "./commands/deploy.js";
import { deploymentsCommand } from "./commands/deployments.js";
import { undeployCommand } from "./commands/undeploy.js";
import { rollbackCommand } from "./commands/rollback.js";
import { caCommand } from "./commands/ca.js";
import { CLIENT_COMMANDS } from "./client.js";

const DEV_TOKEN_TTL_S = 24 * 3600;

function fail(message: string, code = 2): never {
  process.stderr.write(`p2p: ${message}\n`);
  process.exit(code);
}

function nodeCommand(role: Role): Command {
  return new Command(role)
    .description(`start a ${role} node`)
    .option("--node-id <id>", "unique node name (env P2P_NODE_ID; default <role>-<hostname>-<port>)")
    .option("--port <n>", `HTTP (TCP) and gossip (UDP) port (env P2P_PORT; default ${role === "coordinator" ? 8001 : 8002})`)
    .option("--address <ip>", "bind address (env P2P_ADDRESS; default 127.0.0.1)")
    .option("--advertise <host>", "address other nodes use to reach this one (env P2P_ADVERTISE; default = address)")
    .option("--coord <list>", "comma list of coordinator host:port to join (env P2P_COORD)")
    .option("--redis-url <url>", "Redis for the shared cache level (env P2P_REDIS_URL)")
    .option("--services-dir <dir>", "where user services are loaded from (env P2P_SERVICES_DIR; default ./services)")
    .option("--log-file <path>", "JSON log file (env P2P_LOG_FILE; default logs/<node-id>.log)")
    .option("--rate-limit <n>", "RPC calls per second allowed per credential and source address, 0 = unlimited (env P2P_RATE_LIMIT; default 0)")
    .option("--max-local-calls <n>", "service methods this node runs at once; 4x as many may queue, beyond that 503 (env P2P_MAX_LOCAL_CALLS; default 256)")
    .option("--data-dir <dir>", "the node's persistent state: deployments, artifacts, peers last known (env P2P_DATA_DIR; default ./data)")
    .option("--labels <list>", "key=value,... describing the node, gossiped and used by placement (env P2P_LABELS)")
    .option("--strict-load", "type-check --services-dir first and skip services with type errors (env P2P_STRICT_LOAD=1)")
    .option("--watch", "reload a service of --services-dir when its files change (env P2P_WATCH=1)")
    .option("--release-key <file>", "Ed25519 public key (PEM): run only deployed artifacts signed by it (env P2P_RELEASE_KEY)")
    .option("--tls-cert <file>", "this node's certificate (p2p ca issue): HTTPS and mutual TLS between nodes (env P2P_TLS_CERT)")
    .option("--tls-key <file>", "the node certificate's private key (env P2P_TLS_KEY)")
    .option("--tls-ca <files>", "cluster CA certificate file(s), repeatable or a comma list (env P2P_TLS_CA)", (value: string, previous: string[] | undefined) => [...(previous ?? []), value])
    .option("--api-tls-cert <file>", "a certificate of your own for the HTTPS API (nodes still use --tls-cert) (env P2P_API_TLS_CERT)")
    .option("--api-tls-key <file>", "its private key (env P2P_API_TLS_KEY)")
    .option("-v, --verbose", "debug logging (env P2P_LOG_LEVEL=debug)")
    .action(async (opts: CliOptions) => {
      let config: Config;
      try {
        config = buildConfig(role, opts, process.env, generateSecret);
      } catch (err) {
        if (err instanceof ConfigError) fail(err.message);
        throw err;
      }
      await runNode(config);
    });
}

async function runNode(config: Config): Promise<void> {
  // Loaded only when a node starts, so `p2p token` and flag errors answer at once.
  const { P2PNode } = await import("../node.js");
  const node = new P2PNode(config);
  const { generated } = config.secrets;
  if (generated.length > 0) {
    node.logger.warn({ generated }, "DEVELOPMENT MODE: secrets were generated for this process only; set them in the environment for a real cluster");
  }
  if (!config.secrets.clusterKey) {
    node.logger.warn("P2P_CLUSTER_KEY is not set: traffic between nodes is NOT authenticated nor encrypted (development mode)");
  }
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) {
      node.logger.warn({ signal }, "second signal: exiting now");
      process.exit(1);
    }
    stopping = true;
    node.logger.info({ signal }, "shutting down");
    node.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`p2p: shutdown failed: ${err instanceof Error ? err.message : String(err)}\n`);
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  process.on("SIGINT", () => shutdown("SIGINT"));
  process.on("SIGHUP", () => {
    try {
      node.reloadCertificates();
    } catch {
      // logged by the node; the current certificates stay
    }
  });
  const startup = node.start();
  node.onFatal((message) => {
    if (stopping) return;
    stopping = true;
    void startup
      .catch(() => undefined)
      .then(() => node.stop())
      .catch(() => undefined)
      .finally(() => fail(message, 1));
  });
  try {
    await startup;
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why = e.code === "EADDRINUSE" ? `port ${config.port} on ${config.address} is already in use` : e.message;
    await node.stop().catch(() => undefined);
    fail(`cannot start: ${why}`, 1);
  }
  if (generated.includes("P2P_JWT_SECRET") || generated.includes("P2P_API_KEY")) {
    const token = await new TokenService(config.secrets.jwtSecret).issue("dev-admin", "admin", DEV_TOKEN_TTL_S);
    const base = `${config.tls ? "https" : "http"}://${config.advertise}:${config.port}`;
    process.stdout.write(
      [
        "",
        `P2P Core ${VERSION} — ${config.role} ${config.nodeId} at ${base} (DEVELOPMENT MODE)`,
        `Admin token, valid 24 h (this node only: its JWT secret was generated):`,
        `P2P_ADMIN_TOKEN=${token}`,
        ...(generated.includes("P2P_API_KEY") ? [`P2P_API_KEY=${config.secrets.apiKey}`] : []),
        `Try: curl -s${config.tls ? ` --cacert ${config.tls.caFiles[0]}` : ""} -X POST ${base}/rpc/${tryMethod(node.local.list())} -H "Authorization: Bearer $P2P_ADMIN_TOKEN" -d '{"params":{}}'`,
        "",
      ].join("\n") + "\n",
    );
  }
}

/** A method worth trying from the services this node loaded: a user service's parameterless public one first. */
function tryMethod(services: { name: string; methods: Map<string, { descriptor: { public?: boolean; params?: object } }> }[]): string {
  const ranked = [...services].sort((a, b) => Number(a.name === "system") - Number(b.name === "system"));
  for (const service of ranked) {
    for (const [name, m] of service.methods) {
      const required = (m.descriptor.params as { required?: unknown[] } | undefined)?.required ?? [];
      if (m.descriptor.public && required.length === 0) return `${service.name}/${name}`;
    }
  }
  return "system/health_check";
}

function tokenCommand(): Command {
  return new Command("token")
    .description("mint a token signed with P2P_JWT_SECRET")
    .addOption(new Option("--role <role>", "admin or client").default("admin"))
    .option("--sub <name>", "subject (who the token is for)", "cli")
    .option("--ttl <duration>", "lifetime, e.g. 90s, 15m, 1h, 7d (at most 30d)", "1h")
    .action(async (opts: { role: string; sub: string; ttl: string }) => {
      const secret = process.env.P2P_JWT_SECRET?.trim();
      if (!secret) fail("P2P_JWT_SECRET is not set: tokens must be signed with the cluster's secret");
      if (!isRole(opts.role)) fail(`--role: "${opts.role}" must be admin or client`);
      let ttl: number;
      try {
        ttl = parseTtl(opts.ttl);
      } catch (err) {
        fail((err as Error).message);
      }
      if (!/^[A-Za-z0-9._:@-]{1,128}$/.test(opts.sub)) fail(`--sub: "${opts.sub}" must be 1-128 characters of letters, digits, . _ : @ -`);
      process.stdout.write(`${await new TokenService(secret).issue(opts.sub, opts.role, ttl)}\n`);
    });
}

const program = new Command("p2p")
  .description("P2P Core: run plugin services across a cluster of Node.js machines")
  .version(VERSION)
  .exitOverride()
  .configureOutput({ writeErr: (s) => process.stderr.write(s) })
  .addCommand(nodeCommand("coordinator"))
  .addCommand(nodeCommand("worker"))
  .addCommand(tokenCommand())
  .addCommand(newCommand())
  .addCommand(checkCommand())
  .addCommand(callCommand())
  .addCommand(nodesCommand())
  .addCommand(statusCommand())
  .addCommand(servicesCommand())
  .addCommand(demoCommand())
  .addCommand(deployCommand())
  .addCommand(deploymentsCommand())
  .addCommand(undeployCommand())
  .addCommand(rollbackCommand())
  .addCommand(caCommand());

for (const sub of program.commands) {
  sub.exitOverride();
  for (const nested of sub.commands) nested.exitOverride();
}

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // Client commands exit 1 on a bad argument, as on any failure; the others 2.
    process.exit(err.exitCode === 0 ? 0 : CLIENT_COMMANDS.has(process.argv[2] ?? "") ? 1 : 2);
  }
  process.stderr.write(`p2p: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
