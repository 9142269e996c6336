import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateKeyPairSync } from "node:crypto";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO_ROOT, TEST_SECRETS, runCli, startNode, stopAll, type RunningNode } from "../helpers/launcher.js";
import { waitConverged } from "../helpers/cluster.js";
import { callService, DEPLOY_FIXTURES } from "../helpers/deploy.js";

const NO_SERVICES = join(REPO_ROOT, "test/fixtures/empty-services");
const keys = mkdtempSync(join(tmpdir(), "p2p-keys-"));
let coord: RunningNode;
let signedOnly: RunningNode;

function writeKeyPair(name: string): { pub: string; priv: string } {
  const { publicKey, privateKey } = generateKeyPairSync("ed25519");
  const pub = join(keys, `${name}.pub.pem`);
  const priv = join(keys, `${name}.pem`);
  writeFileSync(pub, publicKey.export({ type: "spki", format: "pem" }));
  writeFileSync(priv, privateKey.export({ type: "pkcs8", format: "pem" }));
  return { pub, priv };
}
const release = writeKeyPair("release");
const stranger = writeKeyPair("stranger");

/** Runs `p2p ...` against the coordinator, bounded. */
const p2p = (args: string[]) => runCli(args, { ...TEST_SECRETS, P2P_URL: coord.url }, 150_000);

beforeAll(async () => {
  coord = await startNode({ nodeId: "cli-coord", args: ["--services-dir", NO_SERVICES] });
  signedOnly = await startNode({ role: "worker", nodeId: "cli-signed", args: ["--coord", `127.0.0.1:${coord.port}`, "--services-dir", NO_SERVICES, "--release-key", release.pub] });
  await waitConverged([coord, signedOnly], 60_000);
}, 300_000);
afterAll(stopAll);

describe("p2p deploy / deployments / rollback / undeploy, and --release-key", () => {
  it("an unsigned artifact never runs on a node with --release-key: failed with the reason, exit 1", async () => {
    const out = await p2p(["deploy", join(DEPLOY_FIXTURES, "greeter"), "--name", "signed_svc", "--nodes", "cli-signed", "--wait"]);
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(/failed on cli-signed: artifact is not signed/);
    expect(out.stderr).toMatch(/the rollout stopped; every node keeps the version it ran/);
    expect((await p2p(["deployments"])).stdout).toMatch(/signed_svc\s+1\s+failed.*artifact is not signed.*\(rollout stopped; nodes keep what they ran\)/);
    expect((await callService(coord, "signed_svc/hello")).status).toBe(404);
  }, 180_000);

  it("a wrongly signed artifact is refused too", async () => {
    const out = await p2p(["deploy", join(DEPLOY_FIXTURES, "greeter-v2"), "--name", "signed_svc", "--nodes", "cli-signed", "--wait", "--sign", stranger.priv]);
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(/signature does not match/);
  }, 180_000);

  it("a correctly signed artifact is bundled, uploaded, rolled out (--wait shows progress) and called", async () => {
    const out = await p2p(["deploy", join(DEPLOY_FIXTURES, "greeter"), "--name", "signed_svc", "--nodes", "cli-signed", "--wait", "--sign", release.priv]);
    expect(out.stderr).toBe("");
    expect(out.code).toBe(0);
    expect(out.stdout).toMatch(/cli-signed=running/);
    const call = await callService(coord, "signed_svc/hello", { name: "CLI" });
    expect(call).toMatchObject({ status: 200, node: "cli-signed", body: { result: { message: "Hello, CLI!" } } });
  }, 180_000);

  it("deployments lists it; rollback goes back; undeploy removes it", async () => {
    const list = await p2p(["deployments"]);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/signed_svc\s+\d+\s+ready/);
    const json = JSON.parse((await p2p(["deployments", "--json"])).stdout) as { deployments: { service: string; status: string }[] };
    expect(json.deployments.find((d) => d.service === "signed_svc")?.status).toBe("ready");
    const noPrevious = await p2p(["rollback", "ghost"]);
    expect(noPrevious.code).toBe(1);
    expect(noPrevious.stderr).toMatch(/NOT_FOUND/);
    const back = await p2p(["rollback", "signed_svc", "--wait"]);
    // History holds the earlier (refused) artifacts: rolling back to the wrongly signed one fails on this node.
    expect(back.code).toBe(1);
    expect(back.stderr).toMatch(/signature does not match/);
    const gone = await p2p(["undeploy", "signed_svc"]);
    expect(gone.code).toBe(0);
    expect(gone.stdout).toMatch(/removing signed_svc/);
    expect((await p2p(["undeploy", "signed_svc"])).code).toBe(1);
  }, 180_000);

  it("a service with its own npm dependency and SERVICE_NAME deploys under --name; nodes need not have the package", async () => {
    // A folder outside the repo with a package in its own node_modules, which no node can resolve.
    const dir = join(mkdtempSync(join(tmpdir(), "p2p-dep-")), "orders");
    mkdirSync(join(dir, "node_modules", "tiny-dep"), { recursive: true });
    writeFileSync(join(dir, "node_modules", "tiny-dep", "package.json"), JSON.stringify({ name: "tiny-dep", version: "1.0.0", main: "index.js" }));
    writeFileSync(join(dir, "node_modules", "tiny-dep", "index.js"), "module.exports = { shout: (s) => String(s).toUpperCase() + '!' };\n");
    writeFileSync(
      join(dir, "main.ts"),
      `import { BaseService, serviceMethod } from "p2p-core";
import tiny from "tiny-dep";
export default class Orders extends BaseService {
  static SERVICE_NAME = "orders";
  @serviceMethod({ public: true })
  async shout({ text = "hi" }: { text?: string }) {
    return { text: tiny.shout(text), name: this.info.name };
  }
}
`,
    );
    const out = await p2p(["deploy", dir, "--name", "orders_canary", "--nodes", "cli-coord", "--wait"]);
    expect(out.stderr).toBe("");
    expect(out.code).toBe(0);
    const call = await callService(coord, "orders_canary/shout", { text: "paid" });
    expect(call).toMatchObject({ status: 200, body: { result: { text: "PAID!", name: "orders_canary" } } });
    expect((await p2p(["undeploy", "orders_canary"])).code).toBe(0);
  }, 180_000);

  it("--wait stops with exit 1 when fewer nodes match than asked, and says so", async () => {
    const started = Date.now();
    const out = await p2p(["deploy", join(DEPLOY_FIXTURES, "greeter"), "--name", "too_few", "--labels", "zone=nowhere", "--count", "2", "--wait"]);
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(/too_few runs on 0 node\(s\); only 0 of 2 requested nodes match the placement/);
    expect(Date.now() - started).toBeLessThan(60_000);
    expect((await p2p(["undeploy", "too_few"])).code).toBe(0);
    expect((await p2p(["deployments"])).stdout).toBe("no deployments\n");
  }, 180_000);

  it("bad arguments exit 1 with a message", async () => {
    const both = await p2p(["deploy", join(DEPLOY_FIXTURES, "greeter"), "--nodes", "a", "--role", "worker"]);
    expect(both.code).toBe(1);
    expect(both.stderr).toMatch(/--nodes cannot be combined/);
    const missing = await p2p(["deploy", join(keys, "nowhere")]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/cannot bundle/);
  }, 60_000);
});
