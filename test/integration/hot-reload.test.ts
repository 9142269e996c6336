import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdirSync, mkdtempSync, renameSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startNode, stopAll, waitFor, type RunningNode } from "../helpers/launcher.js";
import { testToken } from "../helpers/http.js";
import { SseClient } from "../helpers/sse.js";
import { callService, loadLoop } from "../helpers/deploy.js";

const servicesDir = mkdtempSync(join(tmpdir(), "p2p-watch-"));
const entry = join(servicesDir, "hot", "main.ts");
let node: RunningNode;

/** The service's source: `value` answers `value`; `extra` is pasted into the class body. */
function source(value: number, extra = ""): string {
  return `import { BaseService, serviceMethod } from "p2p-core";

export default class Hot extends BaseService {
  static VERSION = "${value}.0.0";
${extra}
  @serviceMethod({ public: true, idempotent: true })
  async value({ ms = 0 }: { ms?: number }) {
    if (ms > 0) await new Promise((r) => setTimeout(r, ms));
    return { value: ${value} };
  }
}
`;
}

const valueNow = async (): Promise<unknown> => ((await callService(node, "hot/value")).body.result as { value?: number } | undefined)?.value;
const reloadFailures = (): number => node.output().split("\n").filter((l) => l.includes("reload failed; the running version keeps serving")).length;

beforeAll(async () => {
  mkdirSync(join(servicesDir, "hot"));
  writeFileSync(entry, source(1));
  node = await startNode({ nodeId: "watch-1", args: ["--services-dir", servicesDir, "--watch"] });
});
afterAll(stopAll);

describe("--watch reloads a service of --services-dir when its files change", () => {
  it("an edit is picked up while calls in flight finish on the old version", async () => {
    expect(await valueNow()).toBe(1);
    const load = loadLoop(node, "hot/value", { params: { ms: 150 }, parallel: 3, pick: (r) => r.value });
    await waitFor(() => load.calls() > 6, 20_000);
    writeFileSync(entry, source(2));
    await waitFor(async () => (await valueNow()) === 2, 30_000, () => `value 2; log:\n${node.output().slice(-3000)}`);
    await waitFor(() => load.seen.has(2), 10_000);
    await load.stop();
    expect(load.failures).toEqual([]);
    expect(load.seen).toEqual(new Set([1, 2]));
  }, 90_000);

  it("a syntax error keeps the running version, logs the error and publishes a reload_failed event", async () => {
    const events = await SseClient.open(`${node.url}/cluster/events`, await testToken("admin"));
    const before = reloadFailures();
    writeFileSync(entry, source(9).replace("async value(", "async value(("));
    await waitFor(() => reloadFailures() > before, 30_000, () => `a reload failure in the log:\n${node.output().slice(-3000)}`);
    const frame = await events.waitFor((f) => f.event === "service" && (f.data as { status?: string }).status === "reload_failed");
    expect(frame.data).toMatchObject({ node_id: "watch-1", service: "hot", error: expect.stringMatching(/main\.ts:\d+/) });
    events.close();
    expect(await valueNow()).toBe(2);
  }, 90_000);

  it("an initialize() that throws keeps the running version too", async () => {
    const before = reloadFailures();
    writeFileSync(entry, source(8, `  override async initialize() { throw new Error("no database at boot"); }\n`));
    await waitFor(() => reloadFailures() > before, 30_000, () => `a reload failure in the log:\n${node.output().slice(-3000)}`);
    expect(node.output()).toMatch(/no database at boot/);
    expect(await valueNow()).toBe(2);
  }, 90_000);

  it("the fixed edit is picked up again, also when saved by a rename (editors' atomic save), and edits after it too", async () => {
    const staged = join(servicesDir, "hot", ".main.ts.swp");
    writeFileSync(staged, source(3));
    renameSync(staged, entry);
    await waitFor(async () => (await valueNow()) === 3, 30_000, () => `value 3; log:\n${node.output().slice(-3000)}`);
    writeFileSync(entry, source(4));
    await waitFor(async () => (await valueNow()) === 4, 30_000, () => `value 4 after the file was replaced; log:\n${node.output().slice(-3000)}`);
    expect((await fetch(`${node.url}/health`)).status).toBe(200);
  }, 90_000);
});
