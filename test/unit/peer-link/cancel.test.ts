import { afterEach, describe, expect, it } from "vitest";
import { P2PError } from "../../../src/errors.js";
import { Cancellation } from "../../../src/rpc/cancellation.js";
import { InflightTracker } from "../../../src/util/inflight.js";
import { call, cleanupAll, newPool, startLinkNode } from "./helpers.js";

afterEach(cleanupAll);

describe("peer link cancel", () => {
  it("a caller that stops waiting cancels the call on the peer", async () => {
    let cancelledOnPeer: (reason: unknown) => void = () => {};
    const peerSawCancel = new Promise<unknown>((resolve) => (cancelledOnPeer = resolve));
    let started: () => void = () => {};
    const running = new Promise<void>((resolve) => (started = resolve));
    const server = await startLinkNode({
      nodeId: "b",
      secret: "k",
      handler: (c) =>
        c.method === "next" ? Promise.resolve("still up") : new Promise((_resolve, reject) => {
          started();
          c.cancel?.onCancel((reason) => {
            cancelledOnPeer(reason);
            reject(reason);
          });
        }),
    });
    const pool = newPool("a", "k");
    const cancel = new Cancellation();
    const pending = pool.call(server.target, { ...call("slow", {}, 10_000), cancel }).then(
      () => null,
      (err: unknown) => err,
    );
    await running;
    cancel.cancel(new P2PError("UNAVAILABLE", "the client went away"));
    const err = (await pending) as P2PError;
    expect(err.code).toBe("UNAVAILABLE");
    expect(err.data).toBeUndefined(); // no transport reason: never retried elsewhere
    expect(await peerSawCancel).toMatchObject({ code: "UNAVAILABLE", message: "call cancelled by the caller" });
    // The link stays usable.
    expect(await pool.call(server.target, { ...call("next", {}, 5_000), cancel: new Cancellation() })).toBe("still up");
  });

  it("an already cancelled call is not sent", async () => {
    let calls = 0;
    const server = await startLinkNode({ nodeId: "b", secret: "k", handler: async () => ++calls });
    const pool = newPool("a", "k");
    expect(await pool.call(server.target, call("warm-up", {}, 5_000))).toBe(1);
    const cancel = new Cancellation();
    cancel.cancel(new P2PError("TIMEOUT", "deadline of 5 ms exceeded"));
    await expect(pool.call(server.target, { ...call("late", {}, 5_000), cancel })).rejects.toMatchObject({ code: "TIMEOUT" });
    expect(calls).toBe(1);
  });

  it("a call counted in flight is answered by the shutdown's cut at once; its later answer is dropped", async () => {
    const inflight = new InflightTracker();
    let finish: (value: unknown) => void = () => {};
    const server = await startLinkNode({
      nodeId: "b",
      secret: "k",
      handler: (c, _from, served) => {
        if (c.method === "untracked") return Promise.resolve("not counted");
        served.trackIn(inflight);
        return c.method === "quick" ? Promise.resolve("quick") : new Promise((resolve) => (finish = resolve));
      },
    });
    const pool = newPool("a", "k");
    expect(await pool.call(server.target, call("quick", {}, 5_000))).toBe("quick");
    expect(await pool.call(server.target, call("untracked", {}, 5_000))).toBe("not counted");
    expect(inflight.size).toBe(0);
    const pending = pool.call(server.target, call("slow", {}, 10_000)).then(
      (value) => ({ value }),
      (err: unknown) => err,
    );
    await expect.poll(() => inflight.size).toBe(1);
    inflight.cut(new P2PError("UNAVAILABLE", "node b shut down before the call finished", { reason: "shutdown" }));
    expect(await pending).toMatchObject({ code: "UNAVAILABLE", data: { reason: "shutdown" } });
    expect(server.link.stats()).toMatchObject({ inFlight: 0 });
    expect(await inflight.idle(10)).toBe(true);
    finish("too late");
    // The link stays usable, and the late answer went nowhere.
    expect(await pool.call(server.target, call("quick", {}, 5_000))).toBe("quick");
  });
});
