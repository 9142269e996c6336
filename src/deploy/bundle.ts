/**
 * `p2p deploy DIR`: one ES module bundling the service with its npm dependencies (p2p-core
 * stays external: the node provides it), packed as a .tar.gz artifact.
 */
import { stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import { createHash, createPrivateKey, sign } from "node:crypto";
import { readFileSync } from "node:fs";
import { writeTarGz } from "./tar.js";

const ENTRIES = ["main.ts", "main.mts", "main.js", "main.mjs"];

export interface Bundle {
  archive: Buffer;
  sha256: string;
  /** The folder's name: the default service name. */
  folder: string;
}

export async function bundleService(dir: string): Promise<Bundle> {
  const root = resolve(dir);
  let entry: string | undefined;
  for (const name of ENTRIES) {
    if (await stat(join(root, name)).then((s) => s.isFile(), () => false)) {
      entry = join(root, name);
      break;
    }
  }
  if (!entry) throw new Error(`${dir}: no main.ts or main.js`);
  const { build } = await import("esbuild");
  const out = await build({
    entryPoints: [entry],
    bundle: true,
    external: ["p2p-core"],
    platform: "node",
    format: "esm",
    target: "node20",
    write: false,
    logLevel: "silent",
    // Bundled CommonJS dependencies may call require() for Node built-ins.
    banner: { js: 'import { createRequire as __p2pCreateRequire } from "node:module"; const require = __p2pCreateRequire(import.meta.url);' },
  });
  const code = Buffer.from(out.outputFiles[0]!.contents);
  const archive = await writeTarGz([{ path: "main.js", data: code }]);
  return { archive, sha256: createHash("sha256").update(archive).digest("hex"), folder: root.split("/").pop() ?? "service" };
}

/** Ed25519 signature of the archive with a PEM private key file. */
export function signArchive(archive: Buffer, keyFile: string): Buffer {
  const key = createPrivateKey(readFileSync(keyFile));
  if (key.asymmetricKeyType !== "ed25519") throw new Error(`${keyFile}: must be an Ed25519 private key`);
  return sign(null, archive, key);
}
