import { afterEach, describe, expect, it } from "vitest";
import { P2PError } from "../../../src/errors.js";
import type { LinkCall } from "../../../src/transport/peer-link/index.js";
import { LINK_PROTOCOL } from "../../../src/transport/peer-link/types.js";
import { FrameReader } from "../../../src/transport/peer-link/frame-reader.js";
import { clientHandshake } from "../../../src/transport/peer-link/handshake.js";
import { Keyring } from "../../../src/security/keyring.js";
import { connectUpgrade } from "../../../src/transport/upgrade.js";
import { call, cleanupAll, startPeer, type TestPeer } from "./helpers.js";

const SECRET = "cluster-secret-1";

afterEach(cleanupAll);

/** Answers with who served it, who called and what was asked; "hang" never answers. */
function handlerOf(self: string, onHang?: () => void) {
  return async (c: LinkCall, from: string): Promise<unknown> => {
    if (c.method === "hang") {
      onHang?.();
      return new Promise(() => {});
    }
    return { at: self, from, i: c.params.i };
  };
}

/** TCP connections accepted by both nodes together: one per link. */
function tcpConnections(a: TestPeer, b: TestPeer): number {
  return a.connections() + b.connections();
}

function reasonOf(err: unknown): unknown {
  expect(err).toBeInstanceOf(P2PError);
  return (err as P2PError).data;
}

describe("two-way peer link", () => {
  it("a pair of nodes calling each other uses one TCP connection", async () => {
    const a = await startPeer({ nodeId: "a", secret: SECRET, handler: handlerOf("a") });
    const b = await startPeer({ nodeId: "b", secret: SECRET, handler: handlerOf("b") });
    expect(await a.pool.call(b.target, call("x", { i: 1 }))).toEqual({ at: "b", from: "a", i: 1 });
    expect(await b.pool.call(a.target, call("x", { i: 2 }))).toEqual({ at: "a", from: "b", i: 2 });
    expect(await a.pool.call(b.target, call("x", { i: 3 }))).toEqual({ at: "b", from: "a", i: 3 });
    expect(tcpConnections(a, b)).toBe(1);
    expect(a.connections()).toBe(0); // b never dialled a
    expect(a.pool.stats().connectsOpened + b.pool.stats().connectsOpened).toBe(1);
    expect(b.pool.stats().adopted).toBe(1);
    // Each side's handler served the other's call: the server stats count both.
    expect(a.link.stats().callsServed).toBe(1);
    expect(b.link.stats().callsServed).toBe(2);
  });

  it("carries 500 concurrent calls each way over the one connection", async () => {
    const a = await startPeer({ nodeId: "a", secret: SECRET, handler: handlerOf("a") });
    const b = await startPeer({ nodeId: "b", secret: SECRET, handler: handlerOf("b") });
    await a.pool.call(b.target, call("warm-up"));
    const n = 500;
    const [toB, toA] = await Promise.all([
      Promise.all(Array.from({ length: n }, (_, i) => a.pool.call(b.target, call("x", { i })))),
      Promise.all(Array.from({ length: n }, (_, i) => b.pool.call(a.target, call("x", { i })))),
    ]);
    expect(toB).toEqual(Array.from({ length: n }, (_, i) => ({ at: "b", from: "a", i })));
    expect(toA).toEqual(Array.from({ length: n }, (_, i) => ({ at: "a", from: "b", i })));
    expect(tcpConnections(a, b)).toBe(1);
  });

  it("works when both nodes dial each other at the same moment", async () => {
    const a = await startPeer({ nodeId: "a", secret: SECRET, handler: handlerOf("a") });
    const b = await startPeer({ nodeId: "b", secret: SECRET, handler: handlerOf("b") });
    const [toB, toA] = await Promise.all([
      Promise.all(Array.from({ length: 50 }, (_, i) => a.pool.call(b.target, call("x", { i })))),
      Promise.all(Array.from({ length: 50 }, (_, i) => b.pool.call(a.target, call("x", { i })))),
    ]);
    expect(toB.every((r, i) => (r as { i: number }).i === i)).toBe(true);
    expect(toA.every((r, i) => (r as { i: number }).i === i)).toBe(true);
    expect(tcpConnections(a, b)).toBe(2); // both dialled in the same tick
    // Both sides settle on one link (the one the smaller id opened); no new one is opened.
    await expect.poll(() => a.link.stats().connections + b.link.stats().connections).toBe(1);
    await expect.poll(() => a.pool.stats().connections).toBe(1);
    await expect.poll(() => b.pool.stats().connections).toBe(1);
    const opened = tcpConnections(a, b);
    await Promise.all([a.pool.call(b.target, call("x")), b.pool.call(a.target, call("x"))]);
    expect(tcpConnections(a, b)).toBe(opened);
  });

  it("retiring the duplicate link of a simultaneous dial breaks no call on it", async () => {
    // Hold calls on both links so that the retired one must drain, not break.
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const slow = (self: string) => async (c: LinkCall, from: string) => {
      await gate;
      return { at: self, from, i: c.params.i };
    };
    const a = await startPeer({ nodeId: "a", secret: SECRET, handler: slow("a") });
    const b = await startPeer({ nodeId: "b", secret: SECRET, handler: slow("b") });
    const calls = await Promise.all(
      [0, 1, 2, 3, 4, 5, 6, 7].map(async (i) => {
        await new Promise((r) => setImmediate(r));
        return [a.pool.call(b.target, call("x", { i }, 5000)), b.pool.call(a.target, call("x", { i }, 5000))];
      }),
    );
    await new Promise((r) => setTimeout(r, 50));
    release();
    const results = await Promise.all(calls.flat());
    expect(results).toHaveLength(16);
    expect(tcpConnections(a, b)).toBe(2); // both dialled in the same tick
    await expect.poll(() => a.link.stats().connections + b.link.stats().connections).toBe(1);
  });

  it("a break of the shared connection fails the calls of both directions at once", async () => {
    let hanging = 0;
    const a = await startPeer({ nodeId: "a", secret: SECRET, handler: handlerOf("a", () => hanging++) });
    const b = await startPeer({ nodeId: "b", secret: SECRET, handler: handlerOf("b", () => hanging++) });
    await a.pool.call(b.target, call("warm-up"));
    const fromA = a.pool.call(b.target, call("hang", {}, 10_000)).catch((e: unknown) => e);
    const fromB = b.pool.call(a.target, call("hang", {}, 10_000)).catch((e: unknown) => e);
    await expect.poll(() => hanging).toBe(2);
    expect(tcpConnections(a, b)).toBe(1);
    const t0 = performance.now();
    b.breakConnections();
    const [errA, errB] = await Promise.all([fromA, fromB]);
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(reasonOf(errA)).toEqual({ reason: "connection_lost" });
    expect(reasonOf(errB)).toEqual({ reason: "connection_lost" });
    // Both directions work again, over one new connection.
    expect(await b.pool.call(a.target, call("x", { i: 1 }))).toEqual({ at: "a", from: "b", i: 1 });
    expect(await a.pool.call(b.target, call("x", { i: 2 }))).toEqual({ at: "b", from: "a", i: 2 });
    expect(tcpConnections(a, b)).toBe(2);
    await expect.poll(() => a.pool.stats().connections + b.pool.stats().connections).toBe(2); // one link, seen by both
  });

  it("a restarted node reconnects and both directions work again", async () => {
    const a = await startPeer({ nodeId: "a", secret: SECRET, handler: handlerOf("a") });
    const b1 = await startPeer({ nodeId: "b", secret: SECRET, handler: handlerOf("b1") });
    await a.pool.call(b1.target, call("x"));
    await b1.pool.call(a.target, call("x"));
    await b1.stop();
    await expect.poll(() => a.pool.stats().connections).toBe(0);
    const b2 = await startPeer({ nodeId: "b", secret: SECRET, handler: handlerOf("b2"), port: b1.port });
    // The restarted node calls first: its new link then serves the other direction too.
    expect(await b2.pool.call(a.target, call("x", { i: 1 }))).toEqual({ at: "a", from: "b", i: 1 });
    expect(await a.pool.call(b2.target, call("x", { i: 2 }))).toEqual({ at: "b2", from: "a", i: 2 });
    expect(b2.connections()).toBe(0);
    expect(a.connections()).toBe(1);
    expect(a.pool.stats().connectsOpened).toBe(1); // only the first link, before the restart
  });

  it("a node back on another address, known there by membership, is reached over the link it opened", async () => {
    const known = new Map<string, string>();
    const a = await startPeer({ nodeId: "a", secret: SECRET, handler: handlerOf("a"), knownAddress: (id) => known.get(id) });
    const b1 = await startPeer({ nodeId: "b", secret: SECRET, handler: handlerOf("b1") });
    known.set("b", `127.0.0.1:${b1.port}`);
    await a.pool.call(b1.target, call("x"));
    const b2 = await startPeer({ nodeId: "b", secret: SECRET, handler: handlerOf("b2") });
    expect(b2.port).not.toBe(b1.port);
    known.set("b", `127.0.0.1:${b2.port}`); // membership accepted the move
    // The new process dials first, while the old one is still up on its old address.
    expect(await b2.pool.call(a.target, call("x", { i: 1 }))).toEqual({ at: "a", from: "b", i: 1 });
    expect(await a.pool.call(b2.target, call("x", { i: 2 }))).toEqual({ at: "b2", from: "a", i: 2 });
    expect(b2.connections()).toBe(0);
    expect(a.pool.stats().connectsOpened).toBe(1); // only the link to the old address
    await expect.poll(() => b1.link.stats().connections).toBe(0); // the stale link was closed
  });

  it("a second process claiming a node that still answers on its link is refused before the link is ready", async () => {
    const known = new Map<string, string>();
    let servedAtImpostor = 0;
    const a = await startPeer({ nodeId: "a", secret: SECRET, handler: handlerOf("a"), knownAddress: (id) => known.get(id) });
    const b = await startPeer({ nodeId: "b", secret: SECRET, handler: handlerOf("b") });
    known.set("b", `127.0.0.1:${b.port}`);
    expect(await a.pool.call(b.target, call("x", { i: 1 }))).toEqual({ at: "b", from: "a", i: 1 });
    // Same address (127.0.0.1), same key, same id: only the live link can tell them apart.
    const impostor = await startPeer({ nodeId: "b", secret: SECRET, handler: handlerOf("impostor", () => servedAtImpostor++) });
    const err = await impostor.pool.call(a.target, call("x")).catch((e: unknown) => e);
    expect(reasonOf(err)).toEqual({ reason: "not_sent" });
    expect((err as P2PError).message).toMatch(/already has a live link/);
    for (let i = 0; i < 5; i++) expect(await a.pool.call(b.target, call("x", { i }))).toEqual({ at: "b", from: "a", i });
    expect(impostor.link.stats().callsServed).toBe(0);
    expect(a.link.stats().accepted).toBe(0);
    expect(a.link.stats().handshakeFailures).toBe(1);
  });

  it("a node that dialled while membership held it dead is reached over that link once membership sees it alive", async () => {
    const known = new Map<string, string>();
    const a = await startPeer({ nodeId: "a", secret: SECRET, handler: handlerOf("a"), knownAddress: (id) => known.get(id) });
    const b = await startPeer({ nodeId: "b", secret: SECRET, handler: handlerOf("b") });
    // b restarted and dials a first, while a still holds it dead (membership knows no address).
    expect(await b.pool.call(a.target, call("x", { i: 1 }))).toEqual({ at: "a", from: "b", i: 1 });
    expect(a.pool.linksTo("b")).toEqual([]); // accepted, not carrying a's calls yet
    // Before membership vouches, a's own dial is refused: b keeps its live link.
    const refused = await a.pool.call(b.target, call("x")).catch((e: unknown) => e);
    expect((refused as P2PError).message).toMatch(/already has a live link/);
    known.set("b", `127.0.0.1:${b.port}`); // membership sees b alive again
    await a.link.adoptVouched();
    expect(await a.pool.call(b.target, call("x", { i: 2 }))).toEqual({ at: "b", from: "a", i: 2 });
    expect(a.link.stats().connections).toBe(1); // b's link serves both ways
  });

  it("a link whose node no longer answers is replaced by the node's new link", async () => {
    const a = await startPeer({ nodeId: "a", secret: SECRET, handler: handlerOf("a") });
    // b's first process completed the handshake, then hung: its link is open but silent.
    const socket = await connectUpgrade("127.0.0.1", a.port, LINK_PROTOCOL, 2000);
    await clientHandshake(socket, new FrameReader(socket, Buffer.alloc(0), 1 << 20), Keyring.fromSecret(SECRET), "b", "a", 2000, 1 << 20, true);
    socket.pause();
    await expect.poll(() => a.link.stats().accepted).toBe(1);
    const b2 = await startPeer({ nodeId: "b", secret: SECRET, handler: handlerOf("b2") });
    const t0 = performance.now();
    expect(await b2.pool.call(a.target, call("x", { i: 1 }))).toEqual({ at: "a", from: "b", i: 1 });
    expect(performance.now() - t0).toBeGreaterThanOrEqual(900); // the old link had its second to answer
    expect(await a.pool.call(b2.target, call("x", { i: 2 }))).toEqual({ at: "b2", from: "a", i: 2 });
    expect(a.link.stats().connections).toBe(1); // the hung link was closed, b2's serves both ways
    socket.destroy();
  });
  it("a draining link neither blocks the node's new link nor is cut: its calls finish", async () => {
    const a = await startPeer({ nodeId: "a", secret: SECRET, handler: handlerOf("a") });
    const b1 = await startPeer({
      nodeId: "b",
      secret: SECRET,
      handler: async (c, from) => {
        await new Promise((r) => setTimeout(r, 300));
        return { at: "b1", from, i: c.params.i };
      },
    });
    await b1.pool.call(a.target, call("x")); // b1 dialled a: a adopted that link
    const inFlight = a.pool.call(b1.target, call("slow", { i: 7 }));
    const [old] = a.pool.linksTo("b");
    old!.goaway(); // a retires it: no new calls, answers still flow
    const b2 = await startPeer({ nodeId: "b", secret: SECRET, handler: handlerOf("b2") });
    expect(await b2.pool.call(a.target, call("x", { i: 1 }))).toEqual({ at: "a", from: "b", i: 1 });
    expect(await inFlight).toEqual({ at: "b1", from: "a", i: 7 });
  });
});
