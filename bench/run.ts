/**
 * npm run bench: every benchmark in turn (each prints its own table).
 * `npm run bench -- NAME...` runs only those; BENCH_NODE=/path/to/node runs them (and the nodes they
 * start, which use process.execPath) under another Node.js, e.g. `BENCH_NODE=$(bash scripts/node24.sh)`.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const only = process.argv.slice(2);
const benches = ["http-rpc", "memory", "rpc-cluster", "local-proxy", "scale", "tls", "cache-http", "cache", "peer-link", "pipeline", "membership-sim", "cluster-real", "hostile-http", "observe", "ui", "ui-scale", "deploy", "faults"].filter((b) => existsSync(join(root, "bench", `${b}.ts`)) && (only.length === 0 || only.includes(b)));
const nodeBinary = process.env.BENCH_NODE ?? process.execPath;
const nodeVersion = spawnSync(nodeBinary, ["--version"], { encoding: "utf8" }).stdout.trim();
console.log(`benchmarks under node ${nodeVersion} (${nodeBinary})`);
for (const bench of benches) {
  console.log(`\n# ${bench} (node ${nodeVersion})`);
  const res = spawnSync(nodeBinary, [join(root, "node_modules/tsx/dist/cli.mjs"), join(root, "bench", `${bench}.ts`)], { stdio: "inherit" });
  if (res.status !== 0) console.log(`(${bench} exited with ${res.status})`);
}
