import { Command } from "commander";
import { baseUrl, ClientError, printJson, resolveToken, run, send, withClientOptions, type ClientOptions } from "../client.js";

const TARGET = /^([A-Za-z][A-Za-z0-9_-]{0,63})\.([A-Za-z_][A-Za-z0-9_]{0,63})$/;

interface CallOptions extends ClientOptions {
  node?: string;
  timeout?: string;
}

/** `p2p call <service>.<method> [params-json] [--node ID] [--timeout MS]`: runs a method, prints its result. */
export function callCommand(): Command {
  return withClientOptions(
    new Command("call")
      .description("call a service method anywhere in the cluster and print its result")
      .argument("<service.method>", "e.g. example_service.hello")
      .argument("[params-json]", 'params as a JSON object, e.g. \'{"name":"you"}\'')
      .option("--node <id>", "run it on this node only")
      .option("--timeout <ms>", "deadline in milliseconds (default 30000)"),
  ).action((target: string, paramsJson: string | undefined, options: CallOptions) =>
    run(async () => {
      const match = TARGET.exec(target);
      if (!match) throw new ClientError("BAD_REQUEST", `"${target}" is not <service>.<method> (e.g. example_service.hello)`);
      const params = parseParams(paramsJson);
      const headers: Record<string, string> = {};
      if (options.timeout !== undefined) {
        if (!/^\d{1,10}$/.test(options.timeout) || Number(options.timeout) < 1) throw new ClientError("BAD_REQUEST", `--timeout: "${options.timeout}" must be a positive number of milliseconds`);
        headers["x-p2p-timeout-ms"] = options.timeout;
      }
      const url = baseUrl(options);
      const token = await resolveToken(url);
      const query = options.node !== undefined ? `?node=${encodeURIComponent(options.node)}` : "";
      const started = performance.now();
      const answer = await send<{ result: unknown }>(url, `/rpc/${match[1]}/${match[2]}${query}`, {
        method: "POST",
        body: { params },
        token,
        headers,
        // The node answers TIMEOUT at the deadline; the client waits a little longer for that answer.
        timeoutMs: (options.timeout !== undefined ? Number(options.timeout) : 30_000) + 5_000,
      });
      const ms = Math.round(performance.now() - started);
      const node = answer.headers.get("x-p2p-node") ?? "";
      if (options.json) printJson({ result: answer.body.result, node, ms });
      else {
        printJson(answer.body.result);
        process.stderr.write(`(ran on ${node || "?"} in ${ms} ms)\n`);
      }
    }),
  );
}

function parseParams(text: string | undefined): Record<string, unknown> {
  if (text === undefined) return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ClientError("BAD_REQUEST", `params: not valid JSON: ${text.length > 60 ? `${text.slice(0, 60)}…` : text}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new ClientError("BAD_REQUEST", "params: must be a JSON object, e.g. '{\"name\":\"you\"}'");
  return value as Record<string, unknown>;
}
