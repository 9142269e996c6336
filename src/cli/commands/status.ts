import { Command } from "commander";
import { getJson, printJson, run, table, withClientOptions, type ClientOptions } from "../client.js";

interface Status {
  node_id: string;
  role: string;
  leader: string | null;
  members: Record<string, number>;
  coordinators: string[];
  services: Record<string, string[]>;
  versions?: Record<string, Record<string, string>>;
}

/** `p2p status`: leader, member counts and where each service runs, as the asked node sees it. */
export function statusCommand(): Command {
  return withClientOptions(new Command("status").description("show the cluster's leader, members by state and where each service runs")).action((options: ClientOptions) =>
    run(async () => {
      const status = await getJson<Status>(options, "/cluster/status");
      if (options.json) return printJson(status);
      const m = status.members;
      const out = [
        `node:         ${status.node_id} (${status.role})`,
        `leader:       ${status.leader ?? "none"}`,
        `members:      ${m.alive ?? 0} alive, ${m.suspect ?? 0} suspect, ${m.dead ?? 0} dead, ${m.left ?? 0} left`,
        `coordinators: ${status.coordinators.join(", ") || "none"}`,
        "",
      ].join("\n");
      const rows = Object.entries(status.services).map(([name, nodes]) => {
        const versions = [...new Set(Object.values(status.versions?.[name] ?? {}))];
        return [name, String(nodes.length), versions.join(",") || "-", nodes.join(",") || "(no alive node)"];
      });
      process.stdout.write(`${out}\n${table(["SERVICE", "NODES", "VERSIONS", "RUNS ON"], rows)}`);
    }),
  );
}
