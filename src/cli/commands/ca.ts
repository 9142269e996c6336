import { readFileSync } from "node:fs";
import { Command } from "commander";
import { CaError, CA_DEFAULT_DAYS, initCa, issueNodeCertificate, NODE_DEFAULT_DAYS } from "../../identity/ca.js";

/**
 * `p2p ca init --dir DIR [--passphrase-file F]` creates the cluster CA;
 * `p2p ca issue --dir DIR --node-id ID [--host H ...] [--days N]` issues a node certificate.
 * Failures print `p2p: message` and exit 1.
 */
function fail(err: unknown): never {
  process.stderr.write(`p2p: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}

function readPassphrase(file: string | undefined): string | undefined {
  if (file === undefined) return undefined;
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new CaError(`--passphrase-file: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  const passphrase = text.replace(/\r?\n$/, "");
  if (passphrase.length < 8) throw new CaError("--passphrase-file: the passphrase must be at least 8 characters");
  return passphrase;
}

function days(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d{1,5}$/.test(value)) throw new CaError(`--days: "${value}" must be a whole number of days`);
  return Number(value);
}

const collect = (value: string, previous: string[]): string[] => [...previous, ...value.split(",").map((s) => s.trim()).filter(Boolean)];

export function caCommand(): Command {
  const ca = new Command("ca").description("the cluster CA: create it, issue node certificates");
  ca.command("init")
    .description("create a cluster CA (ECDSA P-256) in DIR: ca.crt and ca.key (mode 0600)")
    .requiredOption("--dir <dir>", "where the CA's files go")
    .option("--passphrase-file <file>", "encrypt ca.key with the passphrase in this file")
    .option("--days <n>", `validity in days (default ${CA_DEFAULT_DAYS})`)
    .option("--name <cn>", "the CA's common name")
    .action(async (opts: { dir: string; passphraseFile?: string; days?: string; name?: string }) => {
      try {
        const done = await initCa({ dir: opts.dir, passphrase: readPassphrase(opts.passphraseFile), days: days(opts.days), name: opts.name });
        process.stdout.write(`CA created: ${done.certFile} (valid until ${done.notAfter.toISOString()}), key ${done.keyFile}\n`);
        process.stdout.write(`Give ${done.certFile} to every node (--tls-ca) and client (--ca); keep the key offline.\n`);
      } catch (err) {
        fail(err);
      }
    });
  ca.command("issue")
    .description("issue a certificate for node ID, signed by the CA in DIR")
    .requiredOption("--dir <dir>", "the CA's directory")
    .requiredOption("--node-id <id>", "the node id the certificate names (SAN URI p2p://node/ID)")
    .option("--host <host>", "a DNS name or IP address clients use to reach the node (repeatable, or a comma list)", collect, [])
    .option("--days <n>", `validity in days (default ${NODE_DEFAULT_DAYS}, at most the CA's)`)
    .option("--out <dir>", "where <id>.crt and <id>.key go (default: --dir)")
    .option("--passphrase-file <file>", "the CA key's passphrase")
    .action(async (opts: { dir: string; nodeId: string; host: string[]; days?: string; out?: string; passphraseFile?: string }) => {
      try {
        const done = await issueNodeCertificate({ dir: opts.dir, nodeId: opts.nodeId, hosts: opts.host, days: days(opts.days), outDir: opts.out, passphrase: readPassphrase(opts.passphraseFile) });
        process.stdout.write(`Issued ${done.certFile} and ${done.keyFile} for node ${opts.nodeId} (valid until ${done.notAfter.toISOString()})\n`);
      } catch (err) {
        fail(err);
      }
    });
  return ca;
}
