import { readFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { afterAll, describe, expect, it } from "vitest";
import { FrameReader } from "../../src/transport/peer-link/frame-reader.js";
import { clientHandshake, HandshakeError } from "../../src/transport/peer-link/handshake.js";
import { Keyring } from "../../src/security/keyring.js";
import { startNode, stopAll, TEST_SECRETS, waitFor } from "../helpers/launcher.js";
import { request, testToken } from "../helpers/http.js";
import { waitConverged } from "../helpers/cluster.js";

afterAll(stopAll);

function rssBytes(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, "utf8").split("\n").find((l) => l.startsWith("VmRSS:"))!;
  return Number(line.replace(/\D+/g, "")) * 1024;
}

/** Opens an upgraded stream as an unauthenticated client would, from `localAddress`. */
function upgrade(port: number, protocol: string, localAddress = "127.0.0.1"): Promise<{ socket: Socket; status: string; rest: Buffer }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port, localAddress });
    let buffered = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      const end = buffered.indexOf("\r\n\r\n");
      if (end < 0) return;
      socket.removeListener("data", onData);
      resolve({ socket, status: buffered.subarray(0, end).toString("latin1").split("\r\n")[0]!, rest: buffered.subarray(end + 4) });
    };
    socket.on("data", onData);
    socket.once("error", reject);
    socket.once("connect", () => socket.write(`GET /_p2p/${protocol} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: ${protocol}\r\n\r\n`));
  });
}

describe("hostile streams against a real node", { timeout: 120_000 }, () => {
  it("slowloris p2p-sync streams are capped per source, cut within seconds, frames over the limit refused unread; memory stays bounded", async () => {
    const node = await startNode({ nodeId: "slow-c" });
    const before = rssBytes(node.pid);
    const open = async () => {
      const s = await upgrade(node.port, "p2p-sync");
      s.socket.on("error", () => undefined);
      return { ...s, closed: new Promise<void>((r) => s.socket.once("close", () => r())) };
    };
    // 60 unauthenticated streams from one address: a ticket of 500 bytes announced, then a byte a second.
    const streams = await Promise.all(Array.from({ length: 60 }, open));
    const accepted = streams.filter((s) => s.status.startsWith("HTTP/1.1 101"));
    expect(accepted.length).toBeLessThanOrEqual(32);
    expect(streams.filter((s) => s.status.startsWith("HTTP/1.1 503")).length).toBeGreaterThanOrEqual(28);
    const header = Buffer.alloc(4);
    header.writeUInt32BE(500);
    for (const s of accepted) s.socket.write(header);
    const started = Date.now();
    for (let round = 0; round < 10 && accepted.some((s) => !s.socket.destroyed); round++) {
      for (const s of accepted) if (!s.socket.destroyed) s.socket.write(Buffer.from([round]));
      await new Promise((r) => setTimeout(r, 1000));
    }
    await Promise.all(accepted.map((s) => s.closed));
    expect(Date.now() - started).toBeLessThan(8_000); // the 3 s limit to authenticate, whatever the trickle
    // 40 streams announcing an 8 MiB frame each: refused before a byte of it is buffered.
    for (let i = 0; i < 40; i++) {
      const s = await open();
      expect(s.status).toMatch(/^HTTP\/1\.1 101/);
      const big = Buffer.alloc(4 + 64 * 1024);
      big.writeUInt32BE(8 * 1024 * 1024);
      s.socket.write(big);
      await s.closed;
    }
    expect(rssBytes(node.pid) - before).toBeLessThan(40 * 1024 * 1024);
    expect((await fetch(`${node.url}/health`)).status).toBe(200);
  });

  it("unauthenticated streams from many addresses: at most 256 at once in all, the node keeps answering", async () => {
    const node = await startNode({ nodeId: "cap-c" });
    const sources = Array.from({ length: 9 }, (_, i) => `127.0.0.${i + 2}`);
    const started = Date.now();
    // 32 from each of 9 addresses: within every per-source cap, 288 in all.
    const streams = await Promise.all(sources.flatMap((src) => Array.from({ length: 32 }, () => upgrade(node.port, "p2p-link", src))));
    const openedWithinMs = Date.now() - started;
    for (const s of streams) s.socket.on("error", () => undefined);
    const accepted = streams.filter((s) => s.status.startsWith("HTTP/1.1 101"));
    const refused = streams.filter((s) => s.status.startsWith("HTTP/1.1 503"));
    expect(openedWithinMs).toBeLessThan(3_000); // else some were cut (3 s to authenticate) before the last came
    expect(accepted.length).toBe(256);
    expect(refused.length).toBe(32);
    expect((await fetch(`${node.url}/health`)).status).toBe(200);
    await Promise.all(accepted.map((s) => new Promise<void>((r) => (s.socket.destroyed ? r() : s.socket.once("close", () => r())))));
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it("a flood of bad p2p-link handshakes writes a few warning lines, with counts", async () => {
    const node = await startNode({ nodeId: "flood-c" });
    const garbage = Buffer.concat([Buffer.from([0, 0, 0, 8]), Buffer.from("not json")]);
    for (let batch = 0; batch < 25; batch++) {
      await Promise.all(
        Array.from({ length: 20 }, async () => {
          const s = await upgrade(node.port, "p2p-link", "127.0.0.4");
          s.socket.on("error", () => undefined);
          const closed = new Promise<void>((r) => s.socket.once("close", () => r()));
          s.socket.end(garbage);
          await closed;
        }),
      );
    }
    await waitFor(() => /"count":499,.*peer link handshake failed \(aggregated\)/.test(node.output()), 25_000, () => `one summary line counting the other 499:\n${node.output().split("\n").filter((l) => l.includes("handshake")).join("\n")}`);
    const lines = node.output().split("\n").filter((l) => l.includes("peer link handshake failed"));
    expect(lines).toHaveLength(2); // the first, then the summary

    expect(lines[0]).not.toMatch(/"stack"/);
    expect((await fetch(`${node.url}/health`)).status).toBe(200);
  });

  it("a link that proves the key but claims to be a member from another address is refused before it is ready", async () => {
    const c = await startNode({ nodeId: "bind-c" });
    const w = await startNode({ role: "worker", nodeId: "bind-w", args: ["--coord", `127.0.0.1:${c.port}`] });
    await waitConverged([c, w]);
    const claim = await claimLink(c.port, "bind-w", "bind-c", "127.0.0.2");
    expect(claim.refused).toMatchObject({ kind: "identity" });
    expect(claim.refused?.message).toMatch(/does not link from this address/);
    await claim.closed;
    // Calls for bind-w still reach the real bind-w.
    const token = await testToken();
    const res = await request(`${c.url}/rpc/example_service/hello?node=bind-w`, { token, body: {} });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-p2p-node")).toBe("bind-w");
    await waitFor(() => /peer link handshake failed/.test(c.output()), 5000, () => "warning logged");
  });

  it("a second link claiming a member that has a live link is refused, even from the member's own address", async () => {
    const c = await startNode({ nodeId: "dup-link-c" });
    const w = await startNode({ role: "worker", nodeId: "dup-link-w", args: ["--coord", `127.0.0.1:${c.port}`] });
    await waitConverged([c, w]);
    const token = await testToken();
    const callW = () => request<{ result: unknown }>(`${c.url}/rpc/example_service/hello?node=dup-link-w`, { token, body: { params: { name: "x" } } });
    const before = await callW(); // opens c's link to the real dup-link-w
    expect(before.status).toBe(200);
    const claim = await claimLink(c.port, "dup-link-w", "dup-link-c", "127.0.0.1");
    expect(claim.refused).toMatchObject({ kind: "duplicate" });
    await claim.closed;
    for (let i = 0; i < 5; i++) {
      const res = await callW();
      expect(res.status).toBe(200);
      expect(res.body.result).toEqual(before.body.result);
    }
    expect(claim.framesAfterHandshake()).toBe(0);
  });

  it("a member advertised by host name is bound to the addresses the name resolves to", async () => {
    const c = await startNode({ nodeId: "name-c" });
    const w = await startNode({ role: "worker", nodeId: "name-w", args: ["--advertise", "localhost", "--coord", `127.0.0.1:${c.port}`] });
    await waitConverged([c, w]);
    const token = await testToken();
    const nodes = await request<{ nodes: { node_id: string; address: string }[] }>(`${c.url}/cluster/nodes`, { token });
    expect(nodes.body.nodes.find((n) => n.node_id === "name-w")?.address).toBe(`localhost:${w.port}`);
    const claim = await claimLink(c.port, "name-w", "name-c", "127.0.0.2"); // localhost is 127.0.0.1 only
    expect(claim.refused).toMatchObject({ kind: "identity" });
    await claim.closed;
    // The real name-w links from 127.0.0.1, both ways.
    const toW = await request(`${c.url}/rpc/example_service/hello?node=name-w`, { token, body: {} });
    expect(toW.headers.get("x-p2p-node")).toBe("name-w");
    const toC = await request(`${w.url}/rpc/example_service/hello?node=name-c`, { token, body: {} });
    expect(toC.headers.get("x-p2p-node")).toBe("name-c");
  });
});

/**
 * A peer that proves the cluster key and claims `claimed` on a two-way link to `port`, from
 * `localAddress`: whether it was refused (and how), when it closed, and how many frames it
 * was sent after the handshake (a call routed onto it would be one).
 */
async function claimLink(port: number, claimed: string, server: string, localAddress: string) {
  const { socket, rest } = await upgrade(port, "p2p-link", localAddress);
  socket.on("error", () => undefined);
  const closed = new Promise<void>((r) => socket.once("close", () => r()));
  const reader = new FrameReader(socket, rest, 1024 * 1024);
  const refused = await clientHandshake(socket, reader, Keyring.fromSecret(TEST_SECRETS.P2P_CLUSTER_KEY), claimed, server, 5000, 1024 * 1024, true).then(
    () => null,
    (err: unknown) => (err instanceof HandshakeError ? err : Promise.reject(err)),
  );
  let frames = 0;
  if (!refused) void (async () => {
    for (;;) {
      await reader.next(60_000);
      frames++;
    }
  })().catch(() => undefined);
  return {
    refused,
    closed: Promise.race([closed, new Promise<never>((_, rej) => setTimeout(() => rej(new Error("refused link still open")), 5000))]),
    framesAfterHandshake: () => frames,
  };
}
