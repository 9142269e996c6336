import { Command } from "commander";
import { getJson, printJson, run, table, withClientOptions, type ClientOptions } from "../client.js";
import type { DeploymentView } from "../../deploy/types.js";

/** `p2p deployments`: every deployment, its status and where it runs. */
export function deploymentsCommand(): Command {
  return withClientOptions(new Command("deployments").description("list deployed services with their status per node")).action((options: ClientOptions) =>
    run(async () => {
      const { deployments } = await getJson<{ deployments: DeploymentView[] }>(options, "/admin/deployments");
      if (options.json) return printJson({ deployments });
      const rows = deployments.map((d) => [
        d.service,
        String(d.generation),
        d.status,
        d.version ?? "-",
        d.artifact.slice(0, 12),
        Object.entries(d.nodes).map(([id, n]) => `${id}=${n.state}`).join(",") || "-",
        d.message ?? Object.values(d.nodes).find((n) => n.error)?.error ?? "",
      ]);
      process.stdout.write(table(["SERVICE", "GEN", "STATUS", "VERSION", "ARTIFACT", "NODES", "NOTE"], rows));
    }),
  );
}
