import { Command } from "commander";
import { baseUrl, printJson, resolveToken, run, send, withClientOptions, type ClientOptions } from "../client.js";
import { followRollout } from "./deploy-progress.js";

/** `p2p rollback NAME`: return a deployment to its previous artifact. */
export function rollbackCommand(): Command {
  return withClientOptions(new Command("rollback").description("return a deployed service to its previous artifact"))
    .argument("<name>", "the deployed service")
    .option("--wait", "follow the rollout; exit 1 if it fails")
    .action((name: string, options: ClientOptions & { wait?: boolean }) =>
      run(async () => {
        const url = baseUrl(options);
        const token = await resolveToken(url);
        const { body } = await send<{ generation: number }>(url, `/admin/deployments/${encodeURIComponent(name)}/rollback`, { method: "POST", token, body: {}, timeoutMs: 60_000 });
        if (options.json && !options.wait) return printJson(body);
        process.stdout.write(`rolling ${name} back (generation ${body.generation})\n`);
        if (options.wait && !(await followRollout(url, token, name, body.generation))) process.exit(1);
      }),
    );
}
