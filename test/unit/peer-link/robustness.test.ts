import { connect, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { Keyring } from "../../../src/security/keyring.js";
import { encodeFrame } from "../../../src/transport/framing.js";
import { connectUpgrade } from "../../../src/transport/upgrade.js";
import { FrameReader } from "../../../src/transport/peer-link/frame-reader.js";
import { clientHandshake } from "../../../src/transport/peer-link/handshake.js";
import type { LinkCall } from "../../../src/transport/peer-link/index.js";
import { call, cleanupAll, newPool, startLinkNode, type TestLinkNode } from "./helpers.js";

const SECRET = "cluster-secret-1";
const echo = async (c: LinkCall) => c.method;

afterEach(cleanupAll);

function closed(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    if (socket.destroyed) return resolve();
    socket.on("error", () => {});
    socket.once("close", () => resolve());
  });
}

/** A raw link socket that has passed the handshake, for sending hand-made frames. */
async function handshaken(server: TestLinkNode, secret?: string): Promise<Socket> {
  const socket = await connectUpgrade("127.0.0.1", server.port, "p2p-link", 2000);
  const reader = new FrameReader(socket, Buffer.alloc(0), 1 << 20);
  await clientHandshake(socket, reader, Keyring.fromSecret(secret), "intruder", server.nodeId, 2000);
  return socket;
}

async function stillServes(server: TestLinkNode, secret?: string): Promise<void> {
  const pool = newPool("a", secret);
  expect(await pool.call(server.target, call("alive"))).toBe("alive");
}

describe("peer link server under bad input", () => {
  it("survives garbage bytes instead of an HTTP request, and after the upgrade", async () => {
    const server = await startLinkNode({ nodeId: "b", secret: SECRET, handler: echo });
    const raw = connect({ host: "127.0.0.1", port: server.port });
    raw.on("error", () => {});
    raw.write(Buffer.from([0xde, 0xad, 0xbe, 0xef, 0, 1, 2, 3, 10, 13, 10, 13]));
    const upgraded = await connectUpgrade("127.0.0.1", server.port, "p2p-link", 2000);
    upgraded.write(Buffer.from("this is not a frame at all, nor a handshake"));
    upgraded.write(encodeFrame(Buffer.from("{not json")));
    await closed(upgraded);
    raw.destroy();
    await stillServes(server, SECRET);
  });

  it("closes a connection announcing an oversize frame", async () => {
    const server = await startLinkNode({ nodeId: "b", secret: SECRET, handler: echo });
    const upgraded = await connectUpgrade("127.0.0.1", server.port, "p2p-link", 2000);
    upgraded.write(Buffer.from([0xff, 0xff, 0xff, 0xff, 1, 2, 3]));
    await closed(upgraded);
    await stillServes(server, SECRET);
  });

  it("closes an unauthenticated connection that sends a big handshake frame", async () => {
    const server = await startLinkNode({ nodeId: "b", secret: SECRET, handler: echo });
    const upgraded = await connectUpgrade("127.0.0.1", server.port, "p2p-link", 2000);
    upgraded.on("error", () => {});
    const head = Buffer.alloc(4);
    head.writeUInt32BE(1024 * 1024, 0);
    upgraded.write(head);
    upgraded.write(Buffer.alloc(100 * 1024, 0x41));
    await closed(upgraded);
    await stillServes(server, SECRET);
  });

  it("closes an authenticated connection that sends a record it cannot open", async () => {
    const server = await startLinkNode({ nodeId: "b", secret: SECRET, handler: echo });
    const socket = await handshaken(server, SECRET);
    socket.write(encodeFrame(Buffer.alloc(64, 7))); // not sealed with the session key
    await closed(socket);
    await stillServes(server, SECRET);
  });

  it("closes a development-mode connection that sends malformed records", async () => {
    const server = await startLinkNode({ nodeId: "b", handler: echo });
    const socket = await handshaken(server);
    socket.write(encodeFrame(Buffer.from('{"t":"q"}],[{"x":1')));
    await closed(socket);
    await stillServes(server);
  });

  it("answers a malformed request with BAD_REQUEST on the same connection", async () => {
    const server = await startLinkNode({ nodeId: "b", handler: echo });
    const socket = await handshaken(server);
    const reader = new FrameReader(socket, Buffer.alloc(0), 1 << 20);
    socket.write(encodeFrame(Buffer.from('{"t":"q","id":7,"s":"echo"}')));
    const answer = JSON.parse((await reader.next(2000)).toString()) as Record<string, unknown>;
    expect(answer).toMatchObject({ t: "e", id: 7, e: { code: "BAD_REQUEST" } });
    socket.destroy();
    await stillServes(server);
  });

  it("serves a request pipelined right behind the handshake proof", async () => {
    const server = await startLinkNode({ nodeId: "b", handler: echo });
    const socket = await connectUpgrade("127.0.0.1", server.port, "p2p-link", 2000);
    const reader = new FrameReader(socket, Buffer.alloc(0), 1 << 20);
    const hello = { t: "hello", v: 1, node: "raw", nonce: Buffer.alloc(32, 1).toString("base64"), auth: false };
    socket.write(encodeFrame(Buffer.from(JSON.stringify(hello))));
    expect(JSON.parse((await reader.next(2000)).toString())).toMatchObject({ t: "welcome", node: "b" });
    const request = { t: "q", id: 1, s: "echo", m: "piped", p: {}, c: { sub: "x", role: "service" }, to: 1000 };
    socket.write(Buffer.concat([encodeFrame(Buffer.from('{"t":"proof"}')), encodeFrame(Buffer.from(JSON.stringify(request)))]));
    expect(JSON.parse((await reader.next(2000)).toString())).toEqual({ t: "ready" });
    expect(JSON.parse((await reader.next(2000)).toString())).toEqual({ t: "r", id: 1, r: "piped" });
    socket.destroy();
  });

  it("counts a connection that leaves during the handshake", async () => {
    const server = await startLinkNode({ nodeId: "b", secret: SECRET, handler: echo });
    const upgraded = await connectUpgrade("127.0.0.1", server.port, "p2p-link", 2000);
    upgraded.destroy();
    await expect.poll(() => server.link.stats().handshakeFailures).toBe(1);
    await stillServes(server, SECRET);
  });
});
