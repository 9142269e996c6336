import { Command } from "commander";
import { getJson, printJson, run, table, withClientOptions, type ClientOptions } from "../client.js";
import type { DeploymentView } from "../../deploy/types.js";

/** `p2p deployments`: every deployment, its status and where it runs. */
export function deploymentsCommand(): Command {
  return withClientOptions(new Command("deployments").description("list deployed services with their status per node")).action((options: ClientOptions) =>
    run(async () => {
      const { deployments } = await getJson<{ deployments: DeploymentView[] }>(options, "/admin/deployments");
      if (options.json) return printJson({ deployments });
      if (deployments.length === 0) return void process.stdout.write("no deployments\n");
      const rows = deployments.map((d) => [
        d.service,
        String(d.generation),
        d.status,
        d.version ?? "-",
        d.artifact.slice(0, 12),
        Object.entries(d.nodes).map(([id, n]) => `${id}=${n.state}`).join(",") || "-",
        d.message ?? failureNote(d),
      ]);
      process.stdout.write(table(["SERVICE", "GEN", "STATUS", "VERSION", "ARTIFACT", "NODES", "NOTE"], rows));
    }),
  );
}

/** Why a rollout failed (the first node's reason), and that it stopped there. */
function failureNote(d: DeploymentView): string {
  const error = Object.values(d.nodes).find((n) => n.error)?.error;
  if (!error) return "";
  return d.status === "failed" ? `${error} (rollout stopped; nodes keep what they ran)` : error;
}
