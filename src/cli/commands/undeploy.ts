import { Command } from "commander";
import { baseUrl, printJson, resolveToken, run, send, withClientOptions, type ClientOptions } from "../client.js";

/** `p2p undeploy NAME`: stop and remove a deployed service everywhere. */
export function undeployCommand(): Command {
  return withClientOptions(new Command("undeploy").description("stop and remove a deployed service on every node"))
    .argument("<name>", "the deployed service")
    .action((name: string, options: ClientOptions) =>
      run(async () => {
        const url = baseUrl(options);
        const { body } = await send<{ generation: number }>(url, `/admin/deployments/${encodeURIComponent(name)}`, { method: "DELETE", token: await resolveToken(url), timeoutMs: 60_000 });
        if (options.json) return printJson(body);
        process.stdout.write(`removing ${name} (generation ${body.generation})\n`);
      }),
    );
}
