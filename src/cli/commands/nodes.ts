import { Command } from "commander";
import { duration, getJson, printJson, run, table, withClientOptions, type ClientOptions } from "../client.js";

interface NodeRow {
  node_id: string;
  role: string;
  address: string;
  state: string;
  version?: string;
  uptime_s?: number;
  services: string[];
  labels?: Record<string, string>;
  failed_services?: { name: string; error: string }[];
}

/** `p2p nodes`: every member the asked node knows, the leader marked. */
export function nodesCommand(): Command {
  return withClientOptions(new Command("nodes").description("list the cluster's nodes (state, role, address, version, uptime, services)")).action((options: ClientOptions) =>
    run(async () => {
      const [{ nodes }, status] = await Promise.all([getJson<{ nodes: NodeRow[] }>(options, "/cluster/nodes"), getJson<{ leader: string | null }>(options, "/cluster/status")]);
      if (options.json) return printJson({ nodes, leader: status.leader });
      const rows = [...nodes]
        .sort((a, b) => a.node_id.localeCompare(b.node_id))
        .map((n) => [
          n.node_id + (n.node_id === status.leader ? " *" : ""),
          n.role,
          n.state,
          n.address,
          n.version ?? "-",
          n.uptime_s === undefined ? "-" : duration(n.uptime_s),
          Object.entries(n.labels ?? {}).map(([k, v]) => `${k}=${v}`).join(",") || "-",
          n.services.join(",") + ((n.failed_services ?? []).length > 0 ? `  FAILED: ${n.failed_services!.map((f) => f.name).join(",")}` : ""),
        ]);
      process.stdout.write(table(["NODE", "ROLE", "STATE", "ADDRESS", "VERSION", "UPTIME", "LABELS", "SERVICES"], rows));
      process.stdout.write(`${nodes.length} node(s); * = leader\n`);
    }),
  );
}
