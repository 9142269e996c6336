import { afterAll, describe, expect, it } from "vitest";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ArtifactStore } from "../../../src/deploy/artifact-store.js";
import { writeTarGz } from "../../../src/deploy/tar.js";
import { MINIMAL_MAIN, sha256 } from "../../helpers/archives.js";

const dataDir = mkdtempSync(join(tmpdir(), "p2p-store-"));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

async function artifact(tag: string): Promise<{ archive: Buffer; sha: string }> {
  const archive = await writeTarGz([{ path: "main.js", data: Buffer.from(`${MINIMAL_MAIN}\n// ${tag}\n`) }]);
  return { archive, sha: sha256(archive) };
}

describe("artifact store: pruning what no deployment needs", () => {
  it("removes unreferenced artifacts written before the cut-off, with their signature and unpacked folder; keeps the rest", async () => {
    const store = new ArtifactStore(dataDir);
    await store.init();
    const [a, b, c] = [await artifact("a"), await artifact("b"), await artifact("c")];
    await store.put(a.sha, a.archive, Buffer.alloc(64, 1));
    await store.put(b.sha, b.archive, Buffer.alloc(64, 2));
    await store.put(c.sha, c.archive);
    await store.unpacked(a.sha);
    await store.unpacked(b.sha);

    // Everything was written after the cut-off (an upload waiting for its POST): nothing goes.
    expect(await store.prune(new Set([a.sha]), Date.now() - 60_000)).toEqual([]);
    expect(await store.has(b.sha)).toBe(true);

    const removed = await store.prune(new Set([a.sha]), Date.now() + 1_000);
    expect(removed.sort()).toEqual([b.sha, c.sha].sort());
    expect(await store.has(a.sha)).toBe(true);
    expect(await store.signature(a.sha)).toEqual(Buffer.alloc(64, 1));
    expect(await store.has(b.sha)).toBe(false);
    expect(await store.signature(b.sha)).toBeUndefined();
    expect(await store.has(c.sha)).toBe(false);
    expect(readdirSync(join(dataDir, "run")).sort()).toEqual([a.sha, "node_modules"].sort());
    expect(existsSync(join(dataDir, "run", a.sha, "main.js"))).toBe(true);
  });
});

describe("artifact store: nodes sharing one data dir (the default ./data of nodes started in one folder)", () => {
  it("starts side by side: the framework link is created once, staging is per process, a dead process's staging is removed", async () => {
    const shared = mkdtempSync(join(tmpdir(), "p2p-store-shared-"));
    try {
      const deadPid = 2 ** 22 + 12_345; // above Linux's pid_max default: never a running process
      const stale = join(shared, "tmp", String(deadPid));
      mkdirSync(stale, { recursive: true });
      writeFileSync(join(stale, "half-written"), "x");
      const stores = Array.from({ length: 6 }, () => new ArtifactStore(shared));
      await Promise.all(stores.map((s) => s.init()));
      expect(existsSync(stale)).toBe(false);
      expect(readdirSync(join(shared, "tmp"))).toEqual([String(process.pid)]);
      const { archive, sha } = await artifact("shared");
      await stores[0]!.put(sha, archive);
      expect(await stores[1]!.has(sha)).toBe(true);
    } finally {
      rmSync(shared, { recursive: true, force: true });
    }
  });
});
