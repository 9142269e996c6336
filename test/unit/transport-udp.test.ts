import { createServer, type Server } from "node:http";
import { createSocket } from "node:dgram";
import { createServer as createTcpServer } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { UdpTransport } from "../../src/transport/udp.js";
import { UpgradeRouter } from "../../src/transport/upgrade.js";

interface TestNode {
  http: Server;
  transport: UdpTransport;
  port: number;
}

const started: TestNode[] = [];

async function startNode(): Promise<TestNode> {
  const router = new UpgradeRouter();
  const http = createServer((_req, res) => res.end("ok"));
  http.on("upgrade", router.handle);
  await new Promise<void>((resolve, reject) => {
    http.once("error", reject);
    http.listen(0, "127.0.0.1", resolve);
  });
  const port = (http.address() as { port: number }).port;
  const transport = await UdpTransport.create({
    bindAddress: "127.0.0.1",
    port,
    advertise: "127.0.0.1",
    upgradeRouter: router,
  });
  const node = { http, transport, port };
  started.push(node);
  return node;
}

async function stopNode(node: TestNode): Promise<void> {
  await node.transport.close();
  node.http.closeAllConnections();
  await new Promise<void>((resolve) => node.http.close(() => resolve()));
}

function nextPacket(node: TestNode): Promise<{ from: string; data: string }> {
  return new Promise((resolve) => {
    node.transport.setPacketHandler((from, data) => resolve({ from, data: Buffer.from(data).toString() }));
  });
}

afterEach(async () => {
  await Promise.all(started.splice(0).map(stopNode));
});

describe("UdpTransport", () => {
  it("advertises host:port with the HTTP port number", async () => {
    const a = await startNode();
    expect(a.transport.localAddress).toBe(`127.0.0.1:${a.port}`);
    expect(a.transport.maxPacketSize).toBe(1400);
  });

  it("delivers packets both ways, naming the sender by ip:port", async () => {
    const a = await startNode();
    const b = await startNode();
    const atB = nextPacket(b);
    a.transport.sendPacket(b.transport.localAddress, Buffer.from("ping"));
    expect(await atB).toEqual({ from: a.transport.localAddress, data: "ping" });
    const atA = nextPacket(a);
    b.transport.sendPacket(a.transport.localAddress, Buffer.from("ack"));
    expect(await atA).toEqual({ from: b.transport.localAddress, data: "ack" });
  });

  it("runs exchanges both ways over the upgraded HTTP port", async () => {
    const a = await startNode();
    const b = await startNode();
    a.transport.setExchangeHandler(async (from, data) => Buffer.from(`a got ${Buffer.from(data)} from ${from.split(":")[0]}`));
    b.transport.setExchangeHandler(async (_from, data) => Buffer.concat([Buffer.from("b:"), data]));
    const big = Buffer.alloc(200_000, 7);
    const fromB = await a.transport.exchange(b.transport.localAddress, big, 2000);
    expect(fromB.length).toBe(big.length + 2);
    const fromA = await b.transport.exchange(a.transport.localAddress, Buffer.from("state"), 2000);
    expect(Buffer.from(fromA).toString()).toBe("a got state from 127.0.0.1");
  });

  it("rejects an exchange whose handler fails, and keeps serving", async () => {
    const a = await startNode();
    const b = await startNode();
    let fail = true;
    b.transport.setExchangeHandler(async (_from, data) => {
      if (fail) throw new Error("boom");
      return data;
    });
    await expect(a.transport.exchange(b.transport.localAddress, Buffer.from("x"), 2000)).rejects.toThrow();
    fail = false;
    const echoed = await a.transport.exchange(b.transport.localAddress, Buffer.from("y"), 2000);
    expect(Buffer.from(echoed).toString()).toBe("y");
  });

  it("rejects a refused exchange quickly", async () => {
    const a = await startNode();
    // A port with nothing listening on it: take one and release it.
    const probe = createTcpServer();
    await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
    const deadPort = (probe.address() as { port: number }).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const t0 = Date.now();
    await expect(a.transport.exchange(`127.0.0.1:${deadPort}`, Buffer.from("x"), 5000)).rejects.toThrow();
    expect(Date.now() - t0).toBeLessThan(1000);
  });

  it("does not send a packet over maxPacketSize, and counts it", async () => {
    const a = await startNode();
    const b = await startNode();
    const first = nextPacket(b);
    a.transport.sendPacket(b.transport.localAddress, Buffer.alloc(1401, 1));
    a.transport.sendPacket(b.transport.localAddress, Buffer.alloc(1400, 2));
    // Loopback keeps order: had the oversize packet gone out, it would arrive first.
    expect((await first).data.length).toBe(1400);
    expect(a.transport.stats().oversizeDropped).toBe(1);
  });

  it("releases its UDP port on close() (the HTTP server owns the TCP port)", async () => {
    const a = await startNode();
    await stopNode(a);
    started.splice(started.indexOf(a), 1);
    const socket = createSocket("udp4");
    await new Promise<void>((resolve, reject) => {
      socket.once("error", reject);
      socket.bind(a.port, "127.0.0.1", () => resolve());
    });
    await new Promise<void>((resolve) => socket.close(() => resolve()));
    // The TCP port belongs to the HTTP server, not to the transport: nothing more to check.
  });

  it("rejects create() when the UDP port is taken", async () => {
    const taken = createSocket("udp4");
    await new Promise<void>((resolve) => taken.bind(0, "127.0.0.1", () => resolve()));
    try {
      const port = taken.address().port;
      await expect(
        UdpTransport.create({ bindAddress: "127.0.0.1", port, advertise: "127.0.0.1", upgradeRouter: new UpgradeRouter() }),
      ).rejects.toThrow(/EADDRINUSE/);
    } finally {
      await new Promise<void>((resolve) => taken.close(() => resolve()));
    }
  });
});
