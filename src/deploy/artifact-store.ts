/**
 * Content-addressed artifacts in `<data-dir>/artifacts/<sha256>.tgz` (with an optional
 * `<sha256>.sig`), unpacked on demand into `<data-dir>/run/<sha256>/`. Every archive is
 * checked before it is kept: its hash, size, unpacked size and every entry's path and type.
 */
import { createHash } from "node:crypto";
import { mkdir, open, readdir, readFile, rename, rm, stat, symlink, writeFile, readlink } from "node:fs/promises";
import { dirname, join, resolve, sep } from "node:path";
import { randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";
import { ArchiveError, readTarGz, type TarEntry } from "./tar.js";

/** Largest artifact accepted (compressed). */
export const MAX_ARTIFACT_BYTES = 50 * 1024 * 1024;
/** Largest total of the files an artifact unpacks to. */
export const MAX_UNPACKED_BYTES = 200 * 1024 * 1024;
const SHA256 = /^[0-9a-f]{64}$/;
const ENTRY_FILES = ["main.js", "main.mjs", "main.ts", "main.mts"];

/** Where this package lives, so unpacked artifacts resolve `import "p2p-core"` to it. */
const PACKAGE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

export function isSha256(value: string): boolean {
  return SHA256.test(value);
}

export function sha256Of(bytes: Buffer): string {
  return createHash("sha256").update(bytes).digest("hex");
}

export class ArtifactStore {
  readonly root: string;
  private readonly artifactsDir: string;
  private readonly runDir: string;
  private readonly tmpDir: string;
  private readonly unpacking = new Map<string, Promise<string>>();

  constructor(dataDir: string) {
    this.root = resolve(dataDir);
    this.artifactsDir = join(this.root, "artifacts");
    this.runDir = join(this.root, "run");
    // Staging space of this process only: nodes started in one folder share the default data dir.
    this.tmpDir = join(this.root, "tmp", String(process.pid));
  }

  async init(): Promise<void> {
    await Promise.all([this.artifactsDir, this.runDir, this.tmpDir].map((d) => mkdir(d, { recursive: true })));
    await this.removeStaleStaging();
    // One link we create ourselves (never from an archive): bare "p2p-core" imports of unpacked
    // artifacts resolve to this very package, so services share the node's framework classes.
    const link = join(this.runDir, "node_modules", "p2p-core");
    await mkdir(dirname(link), { recursive: true });
    // null: no link yet; "" : something else stands there (replaced). A correct link is never removed,
    // so nodes sharing this data dir never take away each other's.
    const current = await readlink(link).catch((err: NodeJS.ErrnoException) => (err.code === "ENOENT" ? null : ""));
    if (current !== PACKAGE_ROOT) {
      if (current !== null) await rm(link, { recursive: true, force: true });
      // Another node sharing this data dir may create it at the same moment: its link is as good.
      await symlink(PACKAGE_ROOT, link, "dir").catch(async (err: NodeJS.ErrnoException) => {
        if (err.code !== "EEXIST" || (await readlink(link).catch(() => null)) !== PACKAGE_ROOT) throw err;
      });
    }
  }

  /** Empties this process's staging folder; removes those of processes that no longer run (and older layouts' files). */
  private async removeStaleStaging(): Promise<void> {
    // Empty it without removing it, so that concurrent inits never see it vanish.
    await mkdir(this.tmpDir, { recursive: true });
    for (const entry of await readdir(this.tmpDir)) await rm(join(this.tmpDir, entry), { recursive: true, force: true });
    const parent = dirname(this.tmpDir);
    for (const entry of await readdir(parent)) {
      if (/^[1-9]\d*$/.test(entry) && isRunning(Number(entry))) continue; // ours, or another live node's
      await rm(join(parent, entry), { recursive: true, force: true });
    }
  }

  /** Checks and keeps an artifact; throws ArchiveError (a 400) when it is refused. */
  async put(sha: string, bytes: Buffer, signature?: Buffer): Promise<{ sha256: string; size: number }> {
    if (!isSha256(sha)) throw new ArchiveError("artifact id must be a SHA-256 in lower-case hex");
    if (bytes.length > MAX_ARTIFACT_BYTES) throw new ArchiveError(`artifact is larger than ${MAX_ARTIFACT_BYTES} bytes`);
    const actual = sha256Of(bytes);
    if (actual !== sha) throw new ArchiveError(`body SHA-256 is ${actual}, not ${sha}`);
    checkEntries(await readTarGz(bytes, MAX_UNPACKED_BYTES));
    await this.writeAtomically(this.blobPath(sha), bytes);
    if (signature) await this.writeAtomically(this.sigPath(sha), signature);
    return { sha256: sha, size: bytes.length };
  }

  async putSignature(sha: string, signature: Buffer): Promise<void> {
    if (isSha256(sha) && signature.length === 64) await this.writeAtomically(this.sigPath(sha), signature);
  }

  async has(sha: string): Promise<boolean> {
    if (!isSha256(sha)) return false;
    return stat(this.blobPath(sha)).then((s) => s.isFile(), () => false);
  }

  async signature(sha: string): Promise<Buffer | undefined> {
    if (!isSha256(sha)) return undefined;
    return readFile(this.sigPath(sha)).catch(() => undefined);
  }

  async read(sha: string): Promise<Buffer> {
    return readFile(this.blobPath(sha));
  }

  /** Bytes [offset, offset+length) of an artifact and its total size, or null when absent. */
  async readChunk(sha: string, offset: number, length: number): Promise<{ size: number; data: Buffer } | null> {
    if (!isSha256(sha)) return null;
    const handle = await open(this.blobPath(sha), "r").catch(() => null);
    if (!handle) return null;
    try {
      const { size } = await handle.stat();
      const n = Math.max(0, Math.min(length, size - offset));
      const data = Buffer.alloc(n);
      if (n > 0) await handle.read(data, 0, n, offset);
      return { size, data };
    } finally {
      await handle.close();
    }
  }

  /**
   * Removes artifacts (and their unpacked folders) that no deployment needs any more: not in
   * `keep`, and last written before `unreferencedBefore` (epoch ms) — so an upload waiting for
   * its POST, or a fetch that just finished, stays. Returns the SHA-256s removed.
   */
  async prune(keep: ReadonlySet<string>, unreferencedBefore: number): Promise<string[]> {
    const removed = new Set<string>();
    const old = async (path: string) => (await stat(path).then((s) => s.mtimeMs, () => Infinity)) < unreferencedBefore;
    for (const name of await readdir(this.artifactsDir).catch(() => [] as string[])) {
      const sha = name.replace(/\.(tgz|sig)$/, "");
      if (!isSha256(sha) || keep.has(sha) || !(await old(join(this.artifactsDir, name)))) continue;
      await rm(join(this.artifactsDir, name), { force: true });
      removed.add(sha);
    }
    for (const name of await readdir(this.runDir).catch(() => [] as string[])) {
      if (!isSha256(name) || keep.has(name) || !(await old(join(this.runDir, name)))) continue;
      await rm(join(this.runDir, name), { recursive: true, force: true });
      removed.add(name);
    }
    return [...removed];
  }

  /** The folder the artifact unpacks to (unpacked once, atomically), and its entry file. */
  async unpacked(sha: string): Promise<{ dir: string; entry: string }> {
    let work = this.unpacking.get(sha);
    if (!work) {
      work = this.unpack(sha);
      this.unpacking.set(sha, work);
      work.finally(() => this.unpacking.delete(sha)).catch(() => undefined);
    }
    const dir = await work;
    return { dir, entry: join(dir, await entryFile(dir)) };
  }

  private async unpack(sha: string): Promise<string> {
    const target = join(this.runDir, sha);
    if (await stat(target).then(() => true, () => false)) return target;
    const entries = await readTarGz(await this.read(sha), MAX_UNPACKED_BYTES);
    checkEntries(entries);
    const staging = join(this.tmpDir, `${sha}.${randomUUID().slice(0, 8)}`);
    await mkdir(staging, { recursive: true });
    for (const entry of entries) {
      const path = resolve(staging, entry.path);
      // readTarGz already refused "..", absolute paths and links; this is the last guard.
      if (!path.startsWith(staging + sep)) throw new ArchiveError(`entry "${entry.path}" escapes the folder`);
      if (entry.type === "dir") await mkdir(path, { recursive: true });
      else {
        await mkdir(dirname(path), { recursive: true });
        await writeFile(path, entry.data, { flag: "wx" });
      }
    }
    await rename(staging, target).catch(async (err: NodeJS.ErrnoException) => {
      await rm(staging, { recursive: true, force: true });
      if (err.code !== "ENOTEMPTY" && err.code !== "EEXIST") throw err;
    });
    return target;
  }

  private async writeAtomically(path: string, bytes: Buffer): Promise<void> {
    const tmp = join(this.tmpDir, randomUUID());
    await writeFile(tmp, bytes);
    await rename(tmp, path);
  }

  private blobPath(sha: string): string {
    return join(this.artifactsDir, `${sha}.tgz`);
  }

  private sigPath(sha: string): string {
    return join(this.artifactsDir, `${sha}.sig`);
  }
}

function checkEntries(entries: TarEntry[]): void {
  const names = new Set(entries.filter((e) => e.type === "file").map((e) => e.path));
  if (!ENTRY_FILES.some((f) => names.has(f))) throw new ArchiveError("archive has no main.js or main.ts at its root");
}

async function entryFile(dir: string): Promise<string> {
  for (const f of ENTRY_FILES) if (await stat(join(dir, f)).then((s) => s.isFile(), () => false)) return f;
  throw new ArchiveError("artifact has no main.js or main.ts at its root");
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
