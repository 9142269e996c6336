/** npm run bench: every benchmark in turn (each prints its own table). */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const only = process.argv.slice(2);
const benches = ["http-rpc", "rpc-cluster", "cache-http", "cache", "peer-link", "pipeline", "membership-sim", "cluster-real", "hostile-http", "observe", "ui"].filter((b) => existsSync(join(root, "bench", `${b}.ts`)) && (only.length === 0 || only.includes(b)));
for (const bench of benches) {
  console.log(`\n# ${bench}`);
  const res = spawnSync(process.execPath, [join(root, "node_modules/tsx/dist/cli.mjs"), join(root, "bench", `${bench}.ts`)], { stdio: "inherit" });
  if (res.status !== 0) console.log(`(${bench} exited with ${res.status})`);
}
