import { freePort } from "../../helpers/launcher.js";
import { createServer as createTcpServer } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { P2PError } from "../../../src/errors.js";
import type { LinkCall } from "../../../src/transport/peer-link/index.js";
import { call, cleanupAll, newPool, startLinkNode } from "./helpers.js";
import { FLUSH_AT_FRAMES } from "../../../src/transport/peer-link/channel.js";

const SECRET = "cluster-secret-1";

async function echo(c: LinkCall, from: string): Promise<unknown> {
  if (c.method === "fail") throw new P2PError("NOT_FOUND", "no such thing", { thing: c.params.thing });
  if (c.method === "crash") throw new Error("handler bug");
  return { from, method: c.method, params: c.params, caller: c.caller, traceparent: c.traceparent };
}

async function rejection(p: Promise<unknown>): Promise<P2PError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(P2PError);
    return err as P2PError;
  }
  throw new Error("expected a rejection");
}


afterEach(cleanupAll);

describe("peer link", () => {
  it("carries a call and its answer, with caller, params and traceparent", async () => {
    const server = await startLinkNode({ nodeId: "b", secret: SECRET, handler: echo });
    const pool = newPool("a", SECRET);
    const result = await pool.call(server.target, {
      ...call("hello", { n: 1, s: "ü\n\"x" }),
      traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    });
    expect(result).toEqual({
      from: "a",
      method: "hello",
      params: { n: 1, s: "ü\n\"x" },
      caller: { sub: "tester", role: "client" },
      traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    });
  });

  it("multiplexes 1,000 concurrent calls over one TCP connection", async () => {
    const server = await startLinkNode({
      nodeId: "b",
      secret: SECRET,
      // Answer out of order: odd calls wait a little.
      handler: async (c) => {
        const i = c.params.i as number;
        if (i % 2 === 1) await new Promise((r) => setTimeout(r, 5));
        return i * 2;
      },
    });
    const pool = newPool("a", SECRET);
    const results = await Promise.all(Array.from({ length: 1000 }, (_, i) => pool.call(server.target, call("double", { i }))));
    expect(results).toEqual(Array.from({ length: 1000 }, (_, i) => i * 2));
    expect(server.connections()).toBe(1);
    expect(pool.stats().connectsOpened).toBe(1);
    // Requests queued in one turn of the event loop share socket writes, up to FLUSH_AT_FRAMES each.
    expect(pool.stats().recordsWritten).toBeLessThanOrEqual(Math.ceil(1000 / FLUSH_AT_FRAMES) + 2);
  });

  it("returns a remote P2PError with its code, message and data; other errors become INTERNAL", async () => {
    const server = await startLinkNode({ nodeId: "b", secret: SECRET, handler: echo });
    const pool = newPool("a", SECRET);
    const err = await rejection(pool.call(server.target, call("fail", { thing: 42 })));
    expect(err.toJSON()).toEqual({ code: "NOT_FOUND", message: "no such thing", data: { thing: 42 } });
    const crash = await rejection(pool.call(server.target, call("crash")));
    expect(crash.code).toBe("INTERNAL");
    expect(await pool.call(server.target, call("still-up"))).toMatchObject({ method: "still-up" });
  });

  it("refuses a peer with another cluster key, not sending the call", async () => {
    const server = await startLinkNode({ nodeId: "b", secret: SECRET, handler: echo });
    const pool = newPool("a", "some-other-secret");
    const err = await rejection(pool.call(server.target, call("hello")));
    expect(err.code).toBe("UNAVAILABLE");
    expect(err.data).toEqual({ reason: "not_sent" });
    expect(err.message).toMatch(/cluster key/);
    expect(pool.stats().handshakeFailures).toBe(1);
    await expect.poll(() => server.link.stats().handshakeFailures).toBe(1);
  });

  it("accepts a rotated key set: the old primary still verifies", async () => {
    const server = await startLinkNode({ nodeId: "b", secret: "old", handler: echo });
    const pool = newPool("a", "new,old");
    expect(await pool.call(server.target, call("hello"))).toMatchObject({ from: "a" });
  });

  it("refuses to mix an encrypted node with a development-mode node", async () => {
    const server = await startLinkNode({ nodeId: "b", handler: echo });
    const pool = newPool("a", SECRET);
    expect((await rejection(pool.call(server.target, call("hello")))).data).toEqual({ reason: "not_sent" });
  });

  it("works in plaintext development mode (no cluster key on either side)", async () => {
    const server = await startLinkNode({ nodeId: "b", handler: echo });
    const pool = newPool("a");
    expect(await pool.call(server.target, call("hello", { x: [1, 2] }))).toMatchObject({ params: { x: [1, 2] } });
  });

  it("refuses a node whose id is not the one expected", async () => {
    const server = await startLinkNode({ nodeId: "b", secret: SECRET, handler: echo });
    const pool = newPool("a", SECRET);
    const err = await rejection(pool.call({ ...server.target, nodeId: "c" }, call("hello")));
    expect(err.code).toBe("UNAVAILABLE");
    expect(err.data).toEqual({ reason: "not_sent" });
  });

  it("fails an in-flight call at once with connection_lost when the server dies", async () => {
    let arrived!: () => void;
    const inHandler = new Promise<void>((r) => (arrived = r));
    const server = await startLinkNode({
      nodeId: "b",
      secret: SECRET,
      handler: () => {
        arrived();
        return new Promise(() => {}); // never answers
      },
    });
    const pool = newPool("a", SECRET);
    const pending = rejection(pool.call(server.target, call("hang", {}, 10_000)));
    await inHandler;
    const t0 = performance.now();
    await server.stop();
    const err = await pending;
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(err.code).toBe("UNAVAILABLE");
    expect(err.data).toEqual({ reason: "connection_lost" });
  });

  it("fails quickly with not_sent when the connection is refused", async () => {
    const pool = newPool("a", SECRET);
    const port = await freePort();
    const t0 = performance.now();
    const err = await rejection(pool.call({ nodeId: "b", host: "127.0.0.1", port }, call("hello", {}, 5000)));
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(err.code).toBe("UNAVAILABLE");
    expect(err.data).toEqual({ reason: "not_sent" });
  });

  it("shares one connect attempt; each caller keeps its own deadline while it hangs", async () => {
    // Accepts TCP but never answers the upgrade: a wedged or overloaded node.
    const accepted: import("node:net").Socket[] = [];
    const silent = createTcpServer((s) => accepted.push(s));
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    try {
      const target = { nodeId: "b", host: "127.0.0.1", port: (silent.address() as { port: number }).port };
      const pool = newPool("a", SECRET, { connectTimeoutMs: 300 });
      const t0 = performance.now();
      const short = rejection(pool.call(target, call("short", {}, 100))).then((e) => ({ e, at: performance.now() - t0 }));
      const long = rejection(pool.call(target, call("long", {}, 5000))).then((e) => ({ e, at: performance.now() - t0 }));
      const [s, l] = await Promise.all([short, long]);
      expect(s.e.code).toBe("TIMEOUT");
      expect(s.e.data).toEqual({ reason: "deadline_exceeded", not_sent: true });
      expect(s.at).toBeLessThan(250);
      expect(l.e.code).toBe("UNAVAILABLE");
      expect(l.e.data).toEqual({ reason: "not_sent" });
      expect(l.at).toBeGreaterThanOrEqual(250);
      expect(l.at).toBeLessThan(1500);
      expect(accepted.length).toBe(1);
    } finally {
      for (const s of accepted) s.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });

  it("reconnects by itself after the server restarts", async () => {
    const first = await startLinkNode({ nodeId: "b", secret: SECRET, handler: echo });
    const pool = newPool("a", SECRET);
    expect(await pool.call(first.target, call("one"))).toMatchObject({ method: "one" });
    await first.stop();
    await expect.poll(() => pool.stats().connections).toBe(0);
    const second = await startLinkNode({ nodeId: "b", secret: SECRET, handler: echo, port: first.port });
    // Concurrent callers after the break share one new connection.
    const results = await Promise.all([1, 2, 3].map((i) => pool.call(second.target, call(`again${i}`))));
    expect(results.map((r) => (r as { method: string }).method)).toEqual(["again1", "again2", "again3"]);
    expect(second.connections()).toBe(1);
    expect(pool.stats().connectsOpened).toBe(2);
  });

  it("times out a call that gets no answer within its budget", async () => {
    const server = await startLinkNode({ nodeId: "b", secret: SECRET, handler: () => new Promise(() => {}) });
    const pool = newPool("a", SECRET);
    await pool.call(server.target, call("warm-up", {}, 50)).catch(() => undefined); // opens the connection
    const t0 = performance.now();
    const err = await rejection(pool.call(server.target, call("hang", {}, 100)));
    const elapsed = performance.now() - t0;
    expect(err.code).toBe("TIMEOUT");
    expect(elapsed).toBeGreaterThanOrEqual(95);
    expect(elapsed).toBeLessThan(600);
  });

  it("passes the remaining budget to the server", async () => {
    const server = await startLinkNode({ nodeId: "b", secret: SECRET, handler: async (c) => c.timeoutMs });
    const pool = newPool("a", SECRET);
    const budget = (await pool.call(server.target, call("budget", {}, 1500))) as number;
    expect(budget).toBeGreaterThan(1000);
    expect(budget).toBeLessThanOrEqual(1500);
  });

  it("drop() fails in-flight calls and the next call reconnects", async () => {
    const server = await startLinkNode({
      nodeId: "b",
      secret: SECRET,
      handler: (c) => (c.method === "hang" ? new Promise(() => {}) : echo(c, "x")),
    });
    const pool = newPool("a", SECRET);
    await pool.call(server.target, call("warm-up"));
    const hanging = rejection(pool.call(server.target, call("hang", {}, 10_000)));
    await new Promise((r) => setTimeout(r, 20));
    pool.drop("b");
    expect((await hanging).data).toEqual({ reason: "connection_lost" });
    expect(await pool.call(server.target, call("after"))).toMatchObject({ method: "after" });
    expect(pool.stats().connectsOpened).toBe(2);
  });

  it("drains on close(graceMs): running calls still answer, later calls are not sent", async () => {
    let arrived!: () => void;
    const inHandler = new Promise<void>((r) => (arrived = r));
    const server = await startLinkNode({
      nodeId: "b",
      secret: SECRET,
      handler: async (c) => {
        if (c.method !== "slow") return c.method;
        arrived();
        await new Promise((r) => setTimeout(r, 150));
        return "done";
      },
    });
    const pool = newPool("a", SECRET);
    const slow = pool.call(server.target, call("slow", {}, 5000));
    await inHandler;
    const closing = server.link.close(2000);
    expect(await slow).toBe("done");
    await closing;
    await expect.poll(() => pool.stats().connections).toBe(0);
    const err = await rejection(pool.call(server.target, call("after")));
    expect(err.data).toEqual({ reason: "not_sent" });
  });

  it("refuses calls and results over the frame limit, and batches many calls under it", async () => {
    const server = await startLinkNode({
      nodeId: "b",
      secret: SECRET,
      handler: async (c) => (c.method === "big-result" ? "z".repeat(5000) : c.params.s),
    });
    // The smaller limit wins in both directions (announced in the handshake).
    const pool = newPool("a", SECRET, { maxFrameBytes: 4096 });
    const big = await rejection(pool.call(server.target, call("big", { s: "x".repeat(5000) })));
    expect(big.code).toBe("PAYLOAD_TOO_LARGE");
    const bigResult = await rejection(pool.call(server.target, call("big-result")));
    expect(bigResult.code).toBe("PAYLOAD_TOO_LARGE");
    // 200 calls of ~1 KB: each fits, together they need several records.
    const s = "y".repeat(1000);
    const results = await Promise.all(Array.from({ length: 200 }, () => pool.call(server.target, call("many", { s }))));
    expect(results.every((r) => r === s)).toBe(true);
    expect(pool.stats().recordsWritten).toBeGreaterThan(1);
  });

  it("rejects calls on a closed pool as not_sent", async () => {
    const server = await startLinkNode({ nodeId: "b", secret: SECRET, handler: echo });
    const pool = newPool("a", SECRET);
    await pool.close();
    expect((await rejection(pool.call(server.target, call("x")))).data).toEqual({ reason: "not_sent" });
  });
});
