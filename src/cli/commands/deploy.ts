import { Command } from "commander";
import { basename, resolve } from "node:path";
import { baseUrl, ClientError, printJson, resolveToken, run, send, withClientOptions, type ClientOptions } from "../client.js";
import { bundleService, signArchive } from "../../deploy/bundle.js";
import { MAX_ARTIFACT_BYTES } from "../../deploy/artifact-store.js";
import { followRollout } from "./deploy-progress.js";

interface DeployOptions extends ClientOptions {
  name?: string;
  nodes?: string;
  role?: string;
  labels?: string;
  count?: string;
  wait?: boolean;
  sign?: string;
}

function placementOf(o: DeployOptions): Record<string, unknown> {
  if (o.nodes !== undefined) {
    if (o.role !== undefined || o.labels !== undefined || o.count !== undefined) throw new ClientError("BAD_REQUEST", "--nodes cannot be combined with --role, --labels or --count");
    return { nodes: o.nodes.split(",").map((s) => s.trim()).filter(Boolean) };
  }
  const placement: Record<string, unknown> = {};
  if (o.role !== undefined) placement.role = o.role;
  if (o.labels !== undefined) {
    placement.labels = Object.fromEntries(
      o.labels.split(",").map((pair) => {
        const [k, ...v] = pair.split("=");
        if (!k || v.length === 0) throw new ClientError("BAD_REQUEST", `--labels: "${pair}" must be key=value`);
        return [k.trim(), v.join("=").trim()];
      }),
    );
  }
  if (o.count !== undefined) {
    if (!/^[1-9]\d{0,4}$/.test(o.count)) throw new ClientError("BAD_REQUEST", `--count: "${o.count}" must be a positive whole number`);
    placement.count = Number(o.count);
  }
  return placement;
}

/** `p2p deploy DIR`: bundle the service with its dependencies, upload the artifact, deploy it. */
export function deployCommand(): Command {
  return withClientOptions(new Command("deploy").description("bundle a service folder with its npm dependencies and deploy it to the running cluster"))
    .argument("<dir>", "the service folder (main.ts or main.js)")
    .option("--name <name>", "service name (default: the folder's name)")
    .option("--nodes <list>", "run on these node ids (comma list)")
    .option("--role <role>", "run on nodes of this role (coordinator or worker)")
    .option("--labels <list>", "run on nodes with these labels (key=value,...)")
    .option("--count <n>", "run on this many matching nodes")
    .option("--wait", "follow the rollout; exit 1 if it fails")
    .option("--sign <keyfile>", "sign the artifact with this Ed25519 private key (PEM)")
    .action((dir: string, options: DeployOptions) =>
      run(async () => {
        const placement = placementOf(options);
        const name = options.name ?? basename(resolve(dir));
        const bundle = await bundleService(dir).catch((err: unknown) => {
          throw new ClientError("BAD_REQUEST", `cannot bundle ${dir}: ${err instanceof Error ? err.message : String(err)}`);
        });
        if (bundle.archive.length > MAX_ARTIFACT_BYTES) {
          const mib = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MiB`;
          throw new ClientError("PAYLOAD_TOO_LARGE", `${dir} bundles to ${mib(bundle.archive.length)} compressed; an artifact may be at most ${mib(MAX_ARTIFACT_BYTES)} (nodes answer 413): keep large data out of the service folder`);
        }
        const url = baseUrl(options);
        const token = await resolveToken(url);
        const headers: Record<string, string> = {};
        if (options.sign) headers["x-p2p-signature"] = signArchive(bundle.archive, options.sign).toString("base64");
        await send(url, `/admin/artifacts/${bundle.sha256}`, { method: "PUT", token, headers, raw: { data: bundle.archive, type: "application/gzip" }, timeoutMs: 120_000 });
        const { body } = await send<{ generation: number }>(url, "/admin/deployments", { method: "POST", token, body: { service: name, artifact: bundle.sha256, placement }, timeoutMs: 60_000 });
        if (!options.wait) {
          if (options.json) return printJson({ service: name, artifact: bundle.sha256, size: bundle.archive.length, generation: body.generation, status: "rolling" });
          process.stdout.write(`deploying ${name} (artifact ${bundle.sha256.slice(0, 12)}, ${bundle.archive.length} bytes), generation ${body.generation}\n`);
          return;
        }
        process.stdout.write(`deploying ${name} (artifact ${bundle.sha256.slice(0, 12)}), generation ${body.generation}\n`);
        const ok = await followRollout(url, token, name, body.generation);
        if (!ok) process.exit(1);
      }),
    );
}
