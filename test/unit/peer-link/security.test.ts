import { connect } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { createServer } from "node:http";
import { Keyring } from "../../../src/security/keyring.js";
import { UpgradeRouter } from "../../../src/transport/upgrade.js";
import { FrameReader } from "../../../src/transport/peer-link/frame-reader.js";
import { serverHandshake } from "../../../src/transport/peer-link/handshake.js";
import { P2PError } from "../../../src/errors.js";
import { call, cleanupAll, newPool, recordingProxy, startLinkNode, startPeer } from "./helpers.js";

const SECRET = "cluster-secret-1";

afterEach(cleanupAll);

describe("peer link security and liveness", () => {
  it("encrypts calls on the wire, and a replayed session is refused", async () => {
    let served = 0;
    const server = await startLinkNode({
      nodeId: "b",
      secret: SECRET,
      handler: async (c) => {
        served++;
        return c.params;
      },
    });
    const proxy = await recordingProxy(server.port);
    const pool = newPool("a", SECRET);
    const target = { ...server.target, port: proxy.port };
    expect(await pool.call(target, call("secret-method", { password: "hunter2-plaintext" }))).toEqual({
      password: "hunter2-plaintext",
    });
    const wire = proxy.clientBytes();
    expect(wire.includes("hunter2-plaintext")).toBe(false);
    expect(wire.includes("secret-method")).toBe(false);
    expect(served).toBe(1);

    // Replay everything the client sent, byte for byte, on a new connection.
    const replay = connect({ host: "127.0.0.1", port: server.port });
    replay.on("error", () => {});
    replay.write(wire);
    await expect.poll(() => server.link.stats().handshakeFailures).toBe(1);
    replay.destroy();
    expect(served).toBe(1);
  });

  it("fails in-flight calls with connection_lost when the peer stops answering pings", async () => {
    // A peer that completes the handshake, then goes silent (a hung process).
    const router = new UpgradeRouter();
    router.register("p2p-link", (socket, head) => {
      const reader = new FrameReader(socket, head, 1 << 20);
      void serverHandshake(socket, reader, Keyring.fromSecret(SECRET), "b", 2000).catch(() => socket.destroy());
    });
    const http = createServer();
    http.on("upgrade", router.handle);
    const open = new Set<import("node:net").Socket>();
    http.on("connection", (s: import("node:net").Socket) => open.add(s));
    await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
    try {
      const port = (http.address() as { port: number }).port;
      const pool = newPool("a", SECRET, { pingIntervalMs: 50 });
      const t0 = performance.now();
      const err = await pool.call({ nodeId: "b", host: "127.0.0.1", port }, call("hang", {}, 10_000)).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(P2PError);
      expect((err as P2PError).data).toEqual({ reason: "connection_lost" });
      expect(performance.now() - t0).toBeLessThan(1000);
    } finally {
      for (const s of open) s.destroy();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    }
  });

  it("refuses a handshake whose two-way flag was changed on the path", async () => {
    const server = await startLinkNode({ nodeId: "b", secret: SECRET, handler: async () => "ok" });
    // Same length, so the frame stays well formed: only the proofs can tell.
    const proxy = await recordingProxy(server.port, (c) => Buffer.from(c.toString("latin1").replace('"duplex":true', '"duplex":null'), "latin1"));
    const a = await startPeer({ nodeId: "a", secret: SECRET, handler: async () => "ok" });
    const err = await a.pool.call({ ...server.target, port: proxy.port }, call("x")).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(P2PError);
    expect((err as P2PError).data).toEqual({ reason: "not_sent" });
    expect(proxy.clientBytes().includes('"duplex":null')).toBe(true);
    expect(server.link.stats().accepted).toBe(0);
  });
});
