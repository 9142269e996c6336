import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { connect } from "node:tls";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { X509Certificate } from "node:crypto";
import { runCli, startNode, stopAll, TEST_SECRETS, waitFor, type RunningNode } from "../helpers/launcher.js";
import { request, testToken } from "../helpers/http.js";
import { createPki, type TestPki } from "../helpers/pki.js";
import { callAs, presenting } from "../helpers/forged-peer.js";
import { NODE_SERVERNAME } from "../../src/identity/node-tls.js";
import { createSocket } from "node:dgram";
import { Keyring } from "../../src/security/keyring.js";
import { encodeMeta } from "../../src/cluster/meta-codec.js";
import { encodeHeader, encodeMessage, MessageType, type Message } from "../../src/cluster/membership/messages.js";

vi.setConfig({ testTimeout: 120_000 });

const DAY = 86_400_000;
let pki: TestPki;
let coord: RunningNode;
let worker: RunningNode;
let token: string;

interface NodeRow {
  node_id: string;
  state: string;
  address: string;
  cert_expires?: string;
}

async function tlsFiles(nodeId: string, options: { days?: number; now?: number } = {}) {
  const issued = await pki.issue(nodeId, options);
  return { ...issued, caFile: pki.caFile };
}

async function nodes(via: RunningNode): Promise<NodeRow[]> {
  const res = await request<{ nodes: NodeRow[] }>(`${via.url}/cluster/nodes`, { token, ca: pki.caPem });
  return res.body.nodes;
}

async function stateOf(via: RunningNode, nodeId: string): Promise<string | undefined> {
  return (await nodes(via)).find((n) => n.node_id === nodeId)?.state;
}

/** A call routed by the coordinator to `nodeId` over the peer link. */
function callOn(nodeId: string) {
  return request<{ result?: { node_id?: string }; error?: { code: string } }>(`${coord.url}/rpc/system/get_system_info?node=${nodeId}`, { token, ca: pki.caPem, body: { params: {} } });
}

/** The certificate a node presents to other nodes (SNI name of the node streams). */
function presentedCertificate(node: RunningNode, files: { certFile: string; keyFile: string }): Promise<X509Certificate> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port: node.port, servername: NODE_SERVERNAME, ca: pki.caPem, cert: readFileSync(files.certFile), key: readFileSync(files.keyFile), checkServerIdentity: () => undefined }, () => {
      const cert = socket.getPeerX509Certificate();
      socket.destroy();
      if (cert) resolve(cert);
      else reject(new Error("no certificate"));
    });
    socket.once("error", reject);
  });
}

beforeAll(async () => {
  pki = await createPki();
  token = await testToken("admin");
  coord = await startNode({ nodeId: "tls-c1", tls: await tlsFiles("tls-c1") });
  worker = await startNode({ role: "worker", nodeId: "tls-w1", tls: await tlsFiles("tls-w1"), args: ["--coord", `127.0.0.1:${coord.port}`] });
  await waitFor(async () => (await stateOf(coord, "tls-w1")) === "alive", 20_000, () => "the worker joined the TLS cluster");
});
afterAll(stopAll);

describe("a TLS cluster of real processes", () => {
  it("serves its API over HTTPS only, and shows each node's certificate expiry", async () => {
    await expect(fetch(`http://127.0.0.1:${coord.port}/health`)).rejects.toThrow();
    const list = await nodes(coord);
    expect(list.map((n) => n.node_id).sort()).toEqual(["tls-c1", "tls-w1"]);
    for (const n of list) expect(Date.parse(n.cert_expires ?? "")).toBeGreaterThan(Date.now() + 300 * DAY);
    const health = await request<{ status: string }>(`${coord.url}/health`, { ca: pki.caPem });
    expect(health.body.status).toBe("ok");
  });

  it("routes calls over mutually authenticated links, and survives kill -9, rejoin and leave", async () => {
    const first = await callOn("tls-w1");
    expect(first.status).toBe(200);
    expect(first.headers.get("x-p2p-node")).toBe("tls-w1");

    const port = worker.port;
    const files = await tlsFiles("tls-w1");
    worker.signal("SIGKILL");
    await worker.exited;
    await waitFor(async () => (await stateOf(coord, "tls-w1")) === "dead", 20_000, () => "the killed worker is dead");

    worker = await startNode({ role: "worker", nodeId: "tls-w1", port, tls: files, args: ["--coord", `127.0.0.1:${coord.port}`] });
    await waitFor(async () => (await stateOf(coord, "tls-w1")) === "alive", 20_000, () => "the restarted worker is alive again");
    await waitFor(async () => (await callOn("tls-w1")).status === 200, 10_000, () => "calls reach the restarted worker");

    const other = await startNode({ role: "worker", nodeId: "tls-w2", tls: await tlsFiles("tls-w2"), args: ["--coord", `127.0.0.1:${coord.port}`] });
    await waitFor(async () => (await stateOf(coord, "tls-w2")) === "alive", 20_000, () => "a second worker joined");
    expect(await other.stop()).toBe(0);
    await waitFor(async () => (await stateOf(coord, "tls-w2")) === "left", 10_000, () => "the stopped worker left");
  });

  it("client commands reach an HTTPS node with --ca (or P2P_CA), and fail without it", async () => {
    const env = { P2P_TOKEN: undefined, P2P_API_KEY: undefined, P2P_JWT_SECRET: TEST_SECRETS.P2P_JWT_SECRET, P2P_CA: undefined };
    const listed = await runCli(["nodes", "--url", coord.url, "--ca", pki.caFile], env);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(/tls-c1 \*\s+coordinator\s+alive/);
    const called = await runCli(["call", "system.health_check", "--node", "tls-w1"], { ...env, P2P_URL: coord.url, P2P_CA: pki.caFile });
    expect(called.code).toBe(0);
    expect(called.stderr).toContain("ran on tls-w1");
    const untrusted = await runCli(["status", "--url", coord.url], env);
    expect(untrusted.code).toBe(1);
    expect(untrusted.stderr).toMatch(/^p2p: UNAVAILABLE: cannot reach https:.*certificate/);
  });
});

describe("an operator's own API certificate", () => {
  it("is what HTTPS clients get, while nodes still get and check node certificates", async () => {
    const operator = await createPki("operator's public CA");
    const api = await operator.issue("api-w3", { hosts: ["127.0.0.1"] });
    const w3 = await startNode({ role: "worker", nodeId: "tls-w3", args: ["--coord", `127.0.0.1:${coord.port}`, "--tls-cert", (await tlsFiles("tls-w3")).certFile, "--tls-key", join(pki.dir, "tls-w3.key"), "--tls-ca", pki.caFile, "--api-tls-cert", api.certFile, "--api-tls-key", api.keyFile], waitHealthy: false });
    await waitFor(async () => (await request(`https://127.0.0.1:${w3.port}/health`, { ca: operator.caPem })).status === 200, 45_000, () => `tls-w3 serves HTTPS with the operator's certificate:\n${w3.output()}`);
    await expect(request(`https://127.0.0.1:${w3.port}/health`, { ca: pki.caPem })).rejects.toThrow();
    await waitFor(async () => (await stateOf(coord, "tls-w3")) === "alive", 20_000, () => "tls-w3 joined over mutual TLS");
    expect((await callOn("tls-w3")).status).toBe(200);
    await w3.stop();
  });
});

describe("node identity", () => {
  it("refuses and logs a peer whose valid certificate is for Y when it claims to be X", async () => {
    const y = await tlsFiles("tls-y");
    const refused = await callAs("tls-w1", presenting(y), { nodeId: "tls-c1", port: coord.port }).then(
      () => null,
      (err: unknown) => err as { code?: string; message?: string },
    );
    expect(refused?.code, refused?.message).toBe("UNAVAILABLE");
    expect(refused?.message).toMatch(/claims to be tls-w1 with a certificate for tls-y/);
    await waitFor(() => /"claimed":"tls-w1","certificate":"tls-y"[^\n]*peer link refused: claims to be tls-w1 with a certificate for tls-y/.test(coord.output()), 5_000, () => "the coordinator logged the impostor");
    // The same certificate under its own name is a member's link: accepted.
    await expect(callAs("tls-y", presenting(y), { nodeId: "tls-c1", port: coord.port })).resolves.toMatchObject({ status: "ok" });
  });

  it("ignores forged liveness about a member sent over UDP by a cluster-key holder", async () => {
    const before = (await nodes(coord)).find((n) => n.node_id === "tls-w1")!;
    const keyring = Keyring.fromSecret(TEST_SECRETS.P2P_CLUSTER_KEY);
    const forged = (messages: Message[]) => keyring.seal(Buffer.concat([encodeHeader({ sentAt: Date.now(), sender: "tls-forger" }), ...messages.map(encodeMessage)]), "gossip");
    const incarnation = 1_000;
    const meta = encodeMeta({ role: "worker", version: "0.1.0", started_at: Date.now(), services: [] });
    const socket = createSocket("udp4");
    const send = (packet: Buffer) => new Promise<void>((resolve) => socket.send(packet, coord.port, "127.0.0.1", () => resolve()));
    const unproven = async () => Number(/p2p_gossip_dropped_total\{[^}]*reason="unproven"[^}]*\} (\d+)/.exec((await request<string>(`${coord.url}/metrics`, { token, ca: pki.caPem })).body)?.[1] ?? 0);
    const droppedBefore = await unproven();
    try {
      // Move tls-w1 to the forger's address at a higher incarnation, then announce its leave.
      await send(forged([{ type: MessageType.Alive, name: "tls-w1", address: "127.0.0.1:9", incarnation, meta }]));
      await send(forged([{ type: MessageType.Dead, name: "tls-w1", incarnation, from: "tls-w1" }]));
      await send(forged([{ type: MessageType.Alive, name: "tls-ghost", address: "127.0.0.1:9", incarnation: 1, meta }]));
      await waitFor(async () => (await unproven()) >= droppedBefore + 3, 10_000, () => "the forged packets reached the coordinator and were dropped");
    } finally {
      socket.close();
    }
    const after = await nodes(coord);
    expect(after.find((n) => n.node_id === "tls-w1")).toMatchObject({ state: "alive", address: before.address });
    expect(after.map((n) => n.node_id)).not.toContain("tls-ghost");
    expect((await callOn("tls-w1")).headers.get("x-p2p-node")).toBe("tls-w1");
  });

  it("refuses certificates of another CA and expired ones", async () => {
    const stranger = await createPki("another CA");
    const foreign = { ...(await stranger.issue("tls-w1")), caFile: stranger.caFile };
    await expect(callAs("tls-w1", presenting(foreign), { nodeId: "tls-c1", port: coord.port })).rejects.toMatchObject({ code: "UNAVAILABLE" });
    const expired = await tlsFiles("tls-old", { now: Date.now() - 10 * DAY, days: 2 });
    await expect(callAs("tls-old", presenting(expired), { nodeId: "tls-c1", port: coord.port })).rejects.toMatchObject({ code: "UNAVAILABLE" });
    await waitFor(() => /(expired|not issued by a trusted cluster CA)[^\n]*node stream refused/.test(coord.output()), 5_000, () => `the refusals are logged:\n${coord.output()}`);
    // A node started with an expired certificate does not start at all.
    const late = await startNode({ role: "worker", nodeId: "tls-old", tls: expired, waitHealthy: false, args: ["--coord", `127.0.0.1:${coord.port}`] });
    expect(await late.exited).toBe(1);
    expect(late.output()).toMatch(/--tls-cert: certificate expired/);
  });

  it("a node with the cluster key but no certificate cannot join", async () => {
    const intruder = await startNode({ role: "worker", nodeId: "tls-nocert", args: ["--coord", `127.0.0.1:${coord.port}`] });
    const stranger = await createPki("another CA");
    const foreign = await startNode({ role: "worker", nodeId: "tls-foreign", tls: { ...(await stranger.issue("tls-foreign")), caFile: stranger.caFile }, args: ["--coord", `127.0.0.1:${coord.port}`] });
    // Both retry their join meanwhile (every 1 s at first); a member with a certificate joins in well under this.
    await new Promise((r) => setTimeout(r, 5_000));
    const ids = (await nodes(coord)).map((n) => n.node_id);
    expect(ids).not.toContain("tls-nocert");
    expect(ids).not.toContain("tls-foreign");
    await intruder.stop();
    await foreign.stop();
  });
});

describe("certificate rotation", () => {
  it("SIGHUP re-reads the certificate files under load without a failed call", async () => {
    const files = await tlsFiles("tls-w1");
    const before = await presentedCertificate(worker, files);
    let calls = 0;
    const failures: string[] = [];
    let running = true;
    const load = Promise.all(
      Array.from({ length: 4 }, async () => {
        while (running) {
          const res = await callOn("tls-w1");
          calls++;
          if (res.status !== 200) failures.push(JSON.stringify(res.body));
        }
      }),
    );
    await new Promise((r) => setTimeout(r, 500));
    const renewed = await pki.issue("tls-w1", { days: 30 }); // same files, new key and expiry
    worker.signal("SIGHUP");
    coord.signal("SIGHUP");
    await waitFor(() => worker.output().includes("certificates reloaded") && coord.output().includes("certificates reloaded"), 10_000, () => "both nodes reloaded");
    const after = await presentedCertificate(worker, renewed);
    expect(after.fingerprint256).not.toBe(before.fingerprint256);
    await waitFor(async () => {
      const row = (await nodes(coord)).find((n) => n.node_id === "tls-w1");
      return Math.abs(Date.parse(row?.cert_expires ?? "") - (Date.now() + 30 * DAY)) < DAY;
    }, 10_000, () => "the new expiry is gossiped");
    await new Promise((r) => setTimeout(r, 500));
    running = false;
    await load;
    expect(calls).toBeGreaterThan(10);
    expect(failures).toEqual([]);
  });

  it("a certificate expiring within 7 days makes /health degraded with the reason", async () => {
    const soon = await startNode({ role: "worker", nodeId: "tls-soon", tls: await tlsFiles("tls-soon", { days: 3 }), args: ["--coord", `127.0.0.1:${coord.port}`] });
    const health = await request<{ status: string; reasons?: string[] }>(`${soon.url}/health`, { ca: pki.caPem });
    expect(health.body.status).toBe("degraded");
    expect(health.body.reasons?.join(" ")).toMatch(/node certificate expires in \d+ h/);
    await soon.stop();
  });
});

describe("CA rotation", () => {
  it("a node of a new CA is refused until the coordinator's CA file holds both CAs and it gets SIGHUP", async () => {
    const next = await createPki("next CA");
    const bundleFile = join(next.dir, "both.crt");
    writeFileSync(bundleFile, pki.caPem + next.caPem);
    const issued = await next.issue("tls-next");
    const seen = coord.output().length;
    const newcomer = await startNode({ role: "worker", nodeId: "tls-next", tls: { ...issued, caFile: bundleFile }, args: ["--coord", `127.0.0.1:${coord.port}`] });
    // Refusals are logged once per source and interval, then counted in a summary line.
    const refusedSince = () => /CN=tls-next[^\n]*not issued by a trusted cluster CA|"kinds":\{"certificate":\d+\}[^\n]*node stream refused/.test(coord.output().slice(seen));
    await waitFor(refusedSince, 25_000, () => "the coordinator refused the new CA's node");
    expect((await nodes(coord)).map((n) => n.node_id)).not.toContain("tls-next");

    writeFileSync(pki.caFile, pki.caPem + next.caPem);
    coord.signal("SIGHUP");
    await waitFor(async () => (await stateOf(coord, "tls-next")) === "alive", 30_000, () => "the new CA's node joined once the coordinator trusts both CAs");
    expect((await callOn("tls-next")).headers.get("x-p2p-node")).toBe("tls-next");
    await newcomer.stop();
    writeFileSync(pki.caFile, pki.caPem);
  });
});
