import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect } from "node:net";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { P2PNode } from "../../src/node.js";
import { buildConfig } from "../../src/config/config.js";
import { createLogger } from "../../src/log.js";
import { freePort, REPO_ROOT, startNode, stopAll, TEST_SECRETS, waitFor, type RunningNode } from "../helpers/launcher.js";
import { request, testToken } from "../helpers/http.js";
import { SseClient } from "../helpers/sse.js";

let coord: RunningNode;
let client: string;
const open: SseClient[] = [];
const sse = async (query = "", headers: Record<string, string> = {}) => {
  const s = await SseClient.open(`${coord.url}/cluster/events${query}`, client, headers);
  open.push(s);
  return s;
};

beforeAll(async () => {
  coord = await startNode({ nodeId: "ev-coord" });
  client = await testToken("client");
});
afterAll(async () => {
  for (const s of open) s.close();
  await stopAll();
});

describe("GET /cluster/events", () => {
  it("needs a token and refuses a malformed Last-Event-ID", async () => {
    expect((await request(`${coord.url}/cluster/events`)).status).toBe(401);
    const bad = await request(`${coord.url}/cluster/events`, { token: client, headers: { "last-event-id": "abc" } });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ error: { code: "BAD_REQUEST" } });
  });

  it("greets with the cluster status, streams membership changes, and resumes after a disconnect without gaps", async () => {
    const first = await sse();
    expect(first.status).toBe(200);
    const hello = await first.waitFor((f) => f.event === "hello");
    expect(hello.data).toMatchObject({ node_id: "ev-coord", resumed: false, cluster: { node_id: "ev-coord", leader: "ev-coord", members: { alive: 1 } } });
    const w1 = await startNode({ role: "worker", nodeId: "ev-w1", args: ["--coord", `127.0.0.1:${coord.port}`] });
    const joined = await first.waitFor((f) => f.event === "member" && (f.data as { node_id: string }).node_id === "ev-w1");
    expect(joined.data).toMatchObject({ node_id: "ev-w1", state: "alive", role: "worker", address: `127.0.0.1:${w1.port}` });
    const lastSeen = Math.max(...first.frames.map((f) => f.id ?? 0));
    first.close();

    // Meanwhile a worker leaves: the client was away when that happened.
    await w1.stop();
    const second = await sse("", { "last-event-id": String(lastSeen) });
    const again = await second.waitFor((f) => f.event === "hello");
    expect(again.id).toBeUndefined();
    expect(again.data).toMatchObject({ resumed: true });
    const left = await second.waitFor((f) => f.event === "member" && (f.data as { state: string }).state === "left");
    expect(left.data).toMatchObject({ node_id: "ev-w1", previous: "alive" });
    // The replay is every kept event after the resume point, in order, and the same the query form gives.
    const replayed = second.frames.filter((f) => f.event !== "hello" && f.event !== "metrics").map((f) => f.id!);
    expect(replayed[0]).toBeGreaterThan(lastSeen);
    expect(replayed).toEqual([...replayed].sort((a, b) => a - b));
    const third = await sse(`?last_event_id=${lastSeen}`);
    await third.waitFor((f) => f.event === "member" && (f.data as { state: string }).state === "left");
    const replayedByQuery = third.frames.filter((f) => f.event !== "hello" && f.event !== "metrics").map((f) => f.id!);
    expect(replayedByQuery.slice(0, replayed.length)).toEqual(replayed);
    second.close();
    third.close();
  });

  it("an id this node never gave out gets a fresh greeting instead of a replay", async () => {
    const s = await sse("", { "last-event-id": "999999" });
    const hello = await s.waitFor((f) => f.event === "hello");
    expect(hello.data).toMatchObject({ resumed: false });
    expect(typeof hello.id).toBe("number");
    s.close();
  });
});

describe("a slow event-stream client", () => {
  let node: P2PNode;
  beforeAll(async () => {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), "p2p-sse-"));
    const config = buildConfig("coordinator", { port: String(port), nodeId: "sse-slow", servicesDir: join(REPO_ROOT, "test/fixtures/empty-services"), logFile: join(dir, "p2p.log") }, TEST_SECRETS, () => "unused");
    node = new P2PNode(config, { logger: createLogger({ nodeId: config.nodeId, level: "info", file: config.logFile, stdout: false }) });
    await node.start();
  });
  afterAll(async () => {
    await node?.stop();
  });

  it("is dropped once it falls a bounded amount behind, while a client that reads keeps its stream", async () => {
    const url = `http://127.0.0.1:${node.config.port}`;
    const reader = await SseClient.open(`${url}/cluster/events`, client);
    await reader.waitFor((f) => f.event === "hello");
    // A client that sends its request and then never reads.
    const stalled = connect(node.config.port, "127.0.0.1");
    let stalledClosed = false;
    stalled.on("close", () => (stalledClosed = true));
    stalled.on("error", () => undefined);
    stalled.write(`GET /cluster/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${client}\r\n\r\n`);
    stalled.pause();
    await waitFor(() => node.events.subscriberCount === 2, 10_000, () => "stalled client subscribed");
    const payload = "x".repeat(100_000);
    // Far more than the kernel's socket buffers plus the per-client bound; bounded in count.
    for (let i = 0; i < 400 && node.events.subscriberCount === 2; i++) {
      node.events.publish("test", { i, payload });
      await new Promise((r) => setImmediate(r));
    }
    await waitFor(() => node.events.subscriberCount === 1, 10_000, () => `slow client still subscribed (${node.events.subscriberCount})`);
    const marker = node.events.publish("test", { i: "after" });
    const got = await reader.waitFor((f) => f.id === marker.id, 30_000);
    expect(got.data).toEqual({ i: "after" });
    stalled.resume();
    await waitFor(() => stalledClosed, 10_000, () => "stalled socket closed");
    reader.close();
  });
});
