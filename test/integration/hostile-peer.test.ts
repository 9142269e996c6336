import { afterAll, describe, expect, it } from "vitest";
import { createSocket } from "node:dgram";
import { decodePacket, MessageType } from "../../src/cluster/membership/messages.js";
import { Keyring } from "../../src/security/keyring.js";
import { forgedPacket, rawMeta, sendUdp } from "../helpers/forge.js";
import { startNode, stopAll, TEST_SECRETS, waitFor, type RunningNode } from "../helpers/launcher.js";
import { request, testToken } from "../helpers/http.js";
import { waitConverged } from "../helpers/cluster.js";

afterAll(stopAll);

const goodMeta = { role: "worker", version: "1.0.0", started_at: Date.now(), services: [{ name: "example_service", version: "9", methods: [{ name: "hello", public: true, idempotent: true }] }] };
const poisonMeta = rawMeta({
  ...goodMeta,
  services: [{ name: "example_service", version: "9", methods: [null] }, { name: "ghost", version: "1", methods: [null] }],
});
/** Other fields of the schema with the wrong type: each makes its whole message dropped. */
const poisonVariants = [rawMeta({ ...goodMeta, load: { inflight: "x", lag_ms: 0 } }), rawMeta({ ...goodMeta, version: { major: 1 } }), rawMeta({ ...goodMeta, load: -1 })];
const phantoms = (meta: Uint8Array[]) => meta.map((m, i) => ({ type: MessageType.Alive as const, name: `phantom${i}`, address: `127.0.0.1:${9 + i}`, incarnation: 1, meta: m }));

/** Every route that reads the registry answers 200 (and the phantom never shows). */
async function expectApiHealthy(node: RunningNode, token: string): Promise<void> {
  for (const path of ["/cluster/nodes", "/cluster/status", "/debug/registry", "/local/services"]) {
    const res = await request(`${node.url}${path}`, { token });
    expect(res.status, `${path} on ${node.nodeId}`).toBe(200);
  }
  const rpc = await request(`${node.url}/rpc/example_service/hello`, { token, body: { params: { name: "x" } } });
  expect(rpc.status).toBe(200);
  const nodes = await request<{ nodes: { node_id: string }[] }>(`${node.url}/cluster/nodes`, { token });
  for (const id of nodes.body.nodes.map((n) => n.node_id)) expect(id).not.toMatch(/^phantom/);
}

describe("hostile gossip against real nodes", { timeout: 150_000 }, () => {
  it("a sealed alive whose metadata lists methods:[null] is dropped; every API route keeps answering", async () => {
    const c = await startNode({ nodeId: "hp-c" });
    const w = await startNode({ role: "worker", nodeId: "hp-w", args: ["--coord", `127.0.0.1:${c.port}`] });
    await waitConverged([c, w]);
    const token = await testToken();
    const packet = forgedPacket("hp-w", [{ type: MessageType.Alive, name: "phantom", address: "127.0.0.1:9", incarnation: 1, meta: poisonMeta }, ...phantoms(poisonVariants)]);
    for (const node of [c, w]) await sendUdp(node.port, packet);
    await waitFor(async () => /p2p_gossip_dropped_total\{reason="invalid-message"[^}]*\} [1-9]/.test(String((await request(`${c.url}/metrics`, { token })).body)), 5_000, () => "drop counted");
    for (const node of [c, w]) await expectApiHealthy(node, token);
  });

  it("in development mode (no cluster key) the same unauthenticated packet is dropped too", async () => {
    const c = await startNode({ nodeId: "hp-dev", secrets: false, env: { P2P_JWT_SECRET: "test-jwt-secret-0123456789abcdef", P2P_API_KEY: "k" } });
    const token = await testToken();
    await sendUdp(c.port, forgedPacket("someone", [{ type: MessageType.Alive, name: "phantom", address: "127.0.0.1:9", incarnation: 1, meta: poisonMeta }], null));
    await waitFor(async () => /reason="invalid-message"[^}]*\} [1-9]/.test(String((await request(`${c.url}/metrics`, { token })).body)), 5_000, () => "drop counted");
    await expectApiHealthy(c, token);
  });

  it("a replayed ping within the replay window is answered once, to its first sending only", async () => {
    const c = await startNode({ nodeId: "replay-c" });
    const listener = createSocket("udp4");
    await new Promise<void>((r) => listener.bind(0, "127.0.0.1", () => r()));
    const acks: Buffer[] = [];
    listener.on("message", (msg) => acks.push(msg));
    try {
      const ping = forgedPacket("replayer", [{ type: MessageType.Ping, seq: 4242, target: "replay-c" }]);
      const send = () => new Promise<void>((r, j) => listener.send(ping, c.port, "127.0.0.1", (err) => (err ? j(err) : r())));
      await send();
      await waitFor(() => acks.length >= 1, 5_000, () => "the first ping to be answered");
      for (let i = 0; i < 5; i++) await send();
      const token = await testToken();
      await waitFor(async () => /p2p_gossip_dropped_total\{reason="replayed"[^}]*\} 5/.test(String((await request(`${c.url}/metrics`, { token })).body)), 5_000, () => "5 replays counted");
      const keyring = Keyring.fromSecret(TEST_SECRETS.P2P_CLUSTER_KEY);
      const acked = acks.map((a) => decodePacket(keyring.open(a, "gossip")!)).flatMap((p) => p.messages).filter((m) => m.type === MessageType.Ack && m.seq === 4242);
      expect(acked).toHaveLength(1);
    } finally {
      listener.close();
    }
  });

  it("a forged alive at incarnation 2^32-1 cannot take a node over: it refutes above it", async () => {
    const c = await startNode({ nodeId: "inc-c" });
    const w = await startNode({ role: "worker", nodeId: "inc-w", args: ["--coord", `127.0.0.1:${c.port}`] });
    await waitConverged([c, w]);
    const token = await testToken();
    const forged = forgedPacket("inc-w", [{ type: MessageType.Alive, name: "inc-w", address: "127.0.0.1:9", incarnation: 2 ** 32 - 1, meta: new Uint8Array() }]);
    await sendUdp(c.port, forged);
    const view = async () => (await request<{ nodes: { node_id: string; address: string; incarnation: number }[] }>(`${c.url}/cluster/nodes`, { token })).body.nodes.find((n) => n.node_id === "inc-w");
    await waitFor(async () => ((await view())?.incarnation ?? 0) >= 2 ** 32, 10_000, () => "refutation above 2^32");
    expect((await view())?.address).toBe(`127.0.0.1:${w.port}`);
    const rpc = await request(`${c.url}/rpc/example_service/hello?node=inc-w`, { token, body: {} });
    expect(rpc.status).toBe(200);
    expect(rpc.headers.get("x-p2p-node")).toBe("inc-w");
  });

  it("forged news beyond what the wall clock allows is dropped; a forgery at the limit is out-bid by its owner", async () => {
    const c = await startNode({ nodeId: "ceil-c" });
    const w = await startNode({ role: "worker", nodeId: "ceil-w", args: ["--coord", `127.0.0.1:${c.port}`] });
    await waitConverged([c, w]);
    const token = await testToken();
    const view = async () => (await request<{ nodes: { node_id: string; address: string; incarnation: number; state: string }[] }>(`${c.url}/cluster/nodes`, { token })).body.nodes.find((n) => n.node_id === "ceil-w");
    // At 2^53-2 (its owner's refutation would not fit a double) and a death at the same height: dropped, by both.
    const unreachable = forgedPacket("ceil-c", [
      { type: MessageType.Alive, name: "ceil-w", address: "127.0.0.1:9", incarnation: 2 ** 53 - 2, meta: new Uint8Array() },
      { type: MessageType.Dead, name: "ceil-w", incarnation: 2 ** 53 - 2, from: "ceil-c" },
    ]);
    for (const node of [c, w]) await sendUdp(node.port, unreachable);
    await waitFor(async () => /p2p_gossip_dropped_total\{reason="implausible-incarnation"[^}]*\} [1-9]/.test(String((await request(`${w.url}/metrics`, { token })).body)), 5_000, () => "drop counted");
    expect(await view()).toMatchObject({ address: `127.0.0.1:${w.port}`, state: "alive" });
    expect((await view())!.incarnation).toBeLessThan(1000);
    // At the highest incarnation a node believes now: believed for a round trip, then out-bid.
    const highest = Date.now() + 55_000;
    await sendUdp(c.port, forgedPacket("ceil-w", [{ type: MessageType.Alive, name: "ceil-w", address: "127.0.0.1:9", incarnation: highest, meta: new Uint8Array() }]));
    await waitFor(async () => ((await view())?.incarnation ?? 0) > highest, 10_000, () => "refutation above the forgery");
    expect((await view())?.address).toBe(`127.0.0.1:${w.port}`);
    const rpc = await request(`${c.url}/rpc/example_service/hello?node=ceil-w`, { token, body: {} });
    expect(rpc.headers.get("x-p2p-node")).toBe("ceil-w");
  });

  it("gossip of protocol version 1 is dropped with a warning naming the version, at most one line per source per 10 s", async () => {
    const c = await startNode({ nodeId: "v1-c" });
    const token = await testToken();
    const v1 = forgedPacket("old-node", [{ type: MessageType.Ping, seq: 1, target: "v1-c" }], TEST_SECRETS.P2P_CLUSTER_KEY, 1);
    for (let i = 0; i < 200; i++) await sendUdp(c.port, v1, "127.0.0.3");
    await waitFor(async () => /p2p_gossip_dropped_total\{reason="protocol-version"[^}]*\} 200/.test(String((await request(`${c.url}/metrics`, { token })).body)), 10_000, () => "200 drops counted");
    const lines = c.output().split("\n").filter((l) => l.includes("gossip protocol version 1"));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/127\.0\.0\.3/);
    expect(lines[0]).toMatch(/speaks version 2/);
    expect((await fetch(`${c.url}/health`)).status).toBe(200);
  });

  it("a second process with an existing --node-id is refused at join and exits non-zero with one clear line", async () => {
    const c = await startNode({ nodeId: "dup-c" });
    const w = await startNode({ role: "worker", nodeId: "dup-w", args: ["--coord", `127.0.0.1:${c.port}`] });
    await waitConverged([c, w]);
    const again = await startNode({ role: "worker", nodeId: "dup-w", args: ["--coord", `127.0.0.1:${c.port}`], waitHealthy: false });
    const code = await Promise.race([again.exited, new Promise<string>((r) => setTimeout(() => r("still running"), 60_000))]);
    expect(code).toBe(1);
    const lines = again.output().split("\n").filter((l) => l.startsWith("p2p: "));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/node id "dup-w" is already in use by a live node at 127\.0\.0\.1:\d+/);
    const token = await testToken();
    const nodes = await request<{ nodes: { node_id: string; address: string; state: string }[] }>(`${c.url}/cluster/nodes`, { token });
    expect(nodes.body.nodes.find((n) => n.node_id === "dup-w")).toMatchObject({ address: `127.0.0.1:${w.port}`, state: "alive" });
  });
});
