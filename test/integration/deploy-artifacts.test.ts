import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { startNode, stopAll, type RunningNode } from "../helpers/launcher.js";
import { testToken } from "../helpers/http.js";
import { rawTarGz, sha256, MINIMAL_MAIN, type RawEntry } from "../helpers/archives.js";
import { writeTarGz } from "../../src/deploy/tar.js";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";

let node: RunningNode;
let admin: string;
let client: string;
let dataDir: string;
let sandbox: string;

beforeAll(async () => {
  sandbox = mkdtempSync(join(tmpdir(), "p2p-artifacts-"));
  dataDir = join(sandbox, "data");
  node = await startNode({ nodeId: "art-1", args: ["--data-dir", dataDir] });
  admin = await testToken("admin");
  client = await testToken("client");
});
afterAll(stopAll);

async function put(bytes: Buffer, sha = sha256(bytes), token = admin, headers: Record<string, string> = {}): Promise<{ status: number; body: { sha256?: string; size?: number; error?: { code: string; message: string } } }> {
  const res = await fetch(`${node.url}/admin/artifacts/${sha}`, { method: "PUT", headers: { authorization: `Bearer ${token}`, "content-type": "application/gzip", ...headers }, body: bytes });
  return { status: res.status, body: (await res.json()) as never };
}

/**
 * Every file under the sandbox but outside the data dir, so a test can prove nothing was written
 * there. The data dir is not walked: its run/node_modules/p2p-core links to the package itself.
 */
function filesOutsideData(): string[] {
  return readdirSync(sandbox, { encoding: "utf8" })
    .filter((name) => name !== "data")
    .flatMap((name) => [name, ...readdirSync(join(sandbox, name), { recursive: true, encoding: "utf8" }).map((p) => join(name, p))]);
}

describe("PUT /admin/artifacts/{sha256}", () => {
  it("stores a valid archive under its SHA-256 and answers 201", async () => {
    const archive = await writeTarGz([{ path: "main.js", data: Buffer.from(MINIMAL_MAIN) }, { path: "lib/x.js", data: Buffer.from("1") }]);
    const res = await put(archive);
    expect(res.status).toBe(201);
    expect(res.body).toEqual({ sha256: sha256(archive), size: archive.length });
    expect(existsSync(join(dataDir, "artifacts", `${sha256(archive)}.tgz`))).toBe(true);
    // Idempotent: the same bytes again are fine.
    expect((await put(archive)).status).toBe(201);
  });

  const attacks: [string, RawEntry[]][] = [
    ["..", [{ path: "main.js", data: MINIMAL_MAIN }, { path: "../escaped.js", data: "pwned" }]],
    ["nested ..", [{ path: "main.js", data: MINIMAL_MAIN }, { path: "lib/../../../escaped.js", data: "pwned" }]],
    ["absolute path", [{ path: "main.js", data: MINIMAL_MAIN }, { path: `/tmp/p2p-escaped-${process.pid}.js`, data: "pwned" }]],
    ["symlink", [{ path: "link", type: "2", link: "/etc/passwd" }, { path: "main.js", data: MINIMAL_MAIN }]],
    ["hard link", [{ path: "main.js", type: "1", link: "/etc/passwd" }]],
    ["device", [{ path: "main.js", data: MINIMAL_MAIN }, { path: "null", type: "3" }]],
  ];
  for (const [what, entries] of attacks) {
    it(`refuses an archive with ${what} (400) and writes nothing outside the data dir`, async () => {
      const archive = rawTarGz(entries);
      const res = await put(archive);
      expect(res.status).toBe(400);
      expect(res.body.error?.code).toBe("BAD_REQUEST");
      expect(existsSync(join(dataDir, "artifacts", `${sha256(archive)}.tgz`))).toBe(false);
      expect(filesOutsideData()).toEqual([]);
      expect(existsSync(`/tmp/p2p-escaped-${process.pid}.js`)).toBe(false);
    });
  }

  it("refuses a body whose SHA-256 differs from the address (400)", async () => {
    const archive = await writeTarGz([{ path: "main.js", data: Buffer.from(MINIMAL_MAIN) }]);
    const res = await put(archive, "0".repeat(64));
    expect(res.status).toBe(400);
    expect(res.body.error?.message).toMatch(/SHA-256/);
    expect((await put(archive, "not-a-hash")).status).toBe(400);
  });

  it("refuses an archive unpacking beyond 200 MiB (400) and a body over 50 MiB (413)", async () => {
    const bomb = rawTarGz([{ path: "main.js", data: Buffer.alloc(201 * 1024 * 1024) }]);
    expect(bomb.length).toBeLessThan(1024 * 1024);
    const res = await put(bomb);
    expect(res.status).toBe(400);
    expect(res.body.error?.message).toMatch(/unpacks beyond/);
    const huge = Buffer.alloc(51 * 1024 * 1024, 1);
    expect((await put(huge)).status).toBe(413);
    // The node still works.
    expect((await fetch(`${node.url}/health`)).status).toBe(200);
  }, 120_000);

  it("refuses an archive without main.js/main.ts, garbage, and a malformed signature (400)", async () => {
    expect((await put(await writeTarGz([{ path: "other.js", data: Buffer.from("1") }]))).body.error?.message).toMatch(/main\.js/);
    expect((await put(Buffer.from("not gzip at all"))).status).toBe(400);
    const archive = await writeTarGz([{ path: "main.js", data: Buffer.from(MINIMAL_MAIN + "//sig") }]);
    expect((await put(archive, sha256(archive), admin, { "x-p2p-signature": "abc" })).status).toBe(400);
  });

  it("is for admins only", async () => {
    const archive = await writeTarGz([{ path: "main.js", data: Buffer.from(MINIMAL_MAIN) }]);
    expect((await put(archive, sha256(archive), client)).status).toBe(403);
    expect((await put(archive, sha256(archive), "garbage")).status).toBe(401);
  });

  it("shows the node's labels in /cluster/nodes", async () => {
    const labelled = await startNode({ role: "worker", nodeId: "art-2", args: ["--coord", `127.0.0.1:${node.port}`, "--labels", "zone=eu-1,gpu=yes"] });
    const res = await fetch(`${labelled.url}/cluster/nodes`, { headers: { authorization: `Bearer ${client}` } });
    const nodes = ((await res.json()) as { nodes: { node_id: string; labels: Record<string, string> }[] }).nodes;
    expect(nodes.find((n) => n.node_id === "art-2")?.labels).toEqual({ zone: "eu-1", gpu: "yes" });
    await labelled.stop();
  });
});
