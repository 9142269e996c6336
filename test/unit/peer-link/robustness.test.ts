import { connect, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { Keyring } from "../../../src/security/keyring.js";
import { encodeFrame } from "../../../src/transport/framing.js";
import { createServer } from "node:http";
import { connectUpgrade, UpgradeRouter } from "../../../src/transport/upgrade.js";
import { FrameReader } from "../../../src/transport/peer-link/frame-reader.js";
import { clientHandshake, HandshakeError, LINK_VERSION } from "../../../src/transport/peer-link/handshake.js";
import { answerText, FRAME, frameId, requestBound, writeRequest } from "../../../src/transport/peer-link/messages.js";
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

/** An upgrade endpoint that hands each p2p-link socket to `onLink` (a peer speaking by hand). */
async function startFakeServer(onLink: (socket: Socket, reader: FrameReader) => void): Promise<{ port: number; close(): Promise<void> }> {
  const router = new UpgradeRouter();
  router.register("p2p-link", (socket, head) => onLink(socket, new FrameReader(socket, head, 1 << 20)));
  const http = createServer();
  http.on("upgrade", router.handle);
  const open = new Set<Socket>();
  http.on("connection", (s: Socket) => open.add(s));
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  return {
    port: (http.address() as { port: number }).port,
    close: async () => {
      for (const s of open) s.destroy();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
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
    // A frame announcing 9 bytes in a record that holds 2 after its head.
    socket.write(encodeFrame(Buffer.from([0, 0, 0, 9, FRAME.request, 1, 2])));
    await closed(socket);
    await stillServes(server);
  });

  it("answers a malformed request with BAD_REQUEST on the same connection", async () => {
    const server = await startLinkNode({ nodeId: "b", handler: echo });
    const socket = await handshaken(server);
    const reader = new FrameReader(socket, Buffer.alloc(0), 1 << 20);
    // A request frame with its id (7) and nothing else.
    socket.write(encodeFrame(Buffer.from([0, 0, 0, 9, FRAME.request, 0, 0, 0, 0, 0, 0, 0, 7])));
    const record = await reader.next(2000);
    expect(record[4]).toBe(FRAME.error);
    const end = 4 + record.readUInt32BE(0);
    expect(end).toBe(record.length);
    expect(frameId(record, 5, end)).toBe(7);
    expect(JSON.parse(answerText(record, 5, end)!)).toMatchObject({ code: "BAD_REQUEST" });
    socket.destroy();
    await stillServes(server);
  });

  it("serves a request pipelined right behind the handshake proof", async () => {
    const server = await startLinkNode({ nodeId: "b", handler: echo });
    const socket = await connectUpgrade("127.0.0.1", server.port, "p2p-link", 2000);
    const reader = new FrameReader(socket, Buffer.alloc(0), 1 << 20);
    const hello = { t: "hello", v: LINK_VERSION, node: "raw", nonce: Buffer.alloc(32, 1).toString("base64"), auth: false };
    socket.write(encodeFrame(Buffer.from(JSON.stringify(hello))));
    expect(JSON.parse((await reader.next(2000)).toString())).toMatchObject({ t: "welcome", node: "b" });
    const request: LinkCall = { service: "echo", method: "piped", params: {}, caller: { sub: "x", role: "service" }, timeoutMs: 1000 };
    const frames = Buffer.alloc(requestBound(request, "{}"));
    const end = writeRequest(frames, 0, 1, request, 1000, "{}");
    socket.write(Buffer.concat([encodeFrame(Buffer.from('{"t":"proof"}')), encodeFrame(frames.subarray(0, end))]));
    expect(JSON.parse((await reader.next(2000)).toString())).toEqual({ t: "ready" });
    const answer = await reader.next(2000);
    expect(answer[4]).toBe(FRAME.result);
    expect(frameId(answer, 5, answer.length)).toBe(1);
    expect(answerText(answer, 5, answer.length)).toBe('"piped"');
    socket.destroy();
  });

  it("refuses a peer of another link version cleanly, naming both versions", async () => {
    const server = await startLinkNode({ nodeId: "b", secret: SECRET, handler: echo });
    const socket = await connectUpgrade("127.0.0.1", server.port, "p2p-link", 2000);
    const reader = new FrameReader(socket, Buffer.alloc(0), 1 << 20);
    const hello = { t: "hello", v: 1, node: "old", nonce: Buffer.alloc(32, 1).toString("base64"), auth: true };
    socket.write(encodeFrame(Buffer.from(JSON.stringify(hello))));
    const reply = JSON.parse((await reader.next(2000)).toString()) as Record<string, unknown>;
    expect(reply).toMatchObject({ t: "reject", code: "version" });
    expect(String(reply.reason)).toContain(`speaks ${LINK_VERSION}`);
    await closed(socket);
    await expect.poll(() => server.link.stats().handshakeFailures).toBe(1);
    await stillServes(server, SECRET);
  });

  it("a client refuses a server of another link version", async () => {
    const fake = await startFakeServer((socket, reader) => {
      void reader.next(2000).then(() => {
        const welcome = { t: "welcome", v: LINK_VERSION + 1, node: "b", nonce: Buffer.alloc(32, 2).toString("base64"), auth: true, max: 1 << 20 };
        socket.write(encodeFrame(Buffer.from(JSON.stringify(welcome))));
      });
    });
    try {
      const socket = await connectUpgrade("127.0.0.1", fake.port, "p2p-link", 2000);
      const reader = new FrameReader(socket, Buffer.alloc(0), 1 << 20);
      const err = await clientHandshake(socket, reader, Keyring.fromSecret(SECRET), "a", "b", 2000).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(HandshakeError);
      expect((err as HandshakeError).kind).toBe("version");
      socket.destroy();
    } finally {
      await fake.close();
    }
  });

  it("counts a connection that leaves during the handshake", async () => {
    const server = await startLinkNode({ nodeId: "b", secret: SECRET, handler: echo });
    const upgraded = await connectUpgrade("127.0.0.1", server.port, "p2p-link", 2000);
    upgraded.destroy();
    await expect.poll(() => server.link.stats().handshakeFailures).toBe(1);
    await stillServes(server, SECRET);
  });
});
