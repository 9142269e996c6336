import { describe, expect, it } from "vitest";
import { P2PError } from "../../../src/errors.js";
import { FakeClock } from "../../../src/util/clock.js";
import { Bulkhead, BulkheadSet } from "../../../src/rpc/bulkhead.js";
import { Deadline } from "../../../src/rpc/deadline.js";
import { deferred, flush, type Deferred } from "./helpers.js";

function setup(maxInflight = 2, maxQueue = 2) {
  const clock = new FakeClock();
  const head = new Bulkhead(clock, { maxInflight, maxQueue }, "node-a");
  const gates: Deferred<string>[] = [];
  const started: number[] = [];
  const task = (i: number) => () => {
    started.push(i);
    const d = deferred<string>();
    gates[i] = d;
    return d.promise;
  };
  return { clock, head, gates, started, task, deadline: (ms = 1000) => Deadline.after(ms, clock) };
}

describe("bulkhead", () => {
  it("runs at once under the limit, then queues in FIFO order", async () => {
    const { head, gates, started, task, deadline } = setup(2, 5);
    const results = [0, 1, 2, 3].map((i) => head.run(task(i), deadline()));
    expect(started).toEqual([0, 1]);
    expect(head.queued).toBe(2);
    gates[1]!.resolve("r1");
    await flush();
    expect(started).toEqual([0, 1, 2]);
    gates[0]!.reject(new P2PError("INTERNAL", "boom")); // a failure frees its slot too
    await flush();
    expect(started).toEqual([0, 1, 2, 3]);
    gates[2]!.resolve("r2");
    gates[3]!.resolve("r3");
    await expect(results[1]).resolves.toBe("r1");
    await expect(results[0]).rejects.toMatchObject({ code: "INTERNAL" });
    await expect(results[3]).resolves.toBe("r3");
    expect(head.inflight).toBe(0);
  });

  it("refuses at once with bulkhead_full when the queue is full", async () => {
    const { head, task, deadline, started } = setup(1, 1);
    void head.run(task(0), deadline());
    void head.run(task(1), deadline());
    const err = await head.run(task(2), deadline()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(P2PError);
    expect(err).toMatchObject({ code: "UNAVAILABLE", data: { reason: "bulkhead_full", node: "node-a" } });
    expect(started).toEqual([0]);
  });

  it("a queued call whose deadline passes rejects with TIMEOUT and leaves the queue", async () => {
    const { head, task, deadline, clock, gates, started } = setup(1, 3);
    void head.run(task(0), deadline(1000));
    const short = head.run(task(1), deadline(100)).catch((e: unknown) => e);
    const long = head.run(task(2), deadline(1000));
    clock.advance(100);
    expect(await short).toMatchObject({ code: "TIMEOUT", data: { reason: "deadline_exceeded" } });
    expect(head.queued).toBe(1);
    gates[0]!.resolve("r0");
    await flush();
    expect(started).toEqual([0, 2]); // the expired call never runs
    gates[2]!.resolve("r2");
    await expect(long).resolves.toBe("r2");
    expect(clock.pending).toBe(0);
  });

  it("a function that throws synchronously frees its slot", async () => {
    const { head, deadline } = setup(1, 0);
    const boom = () => {
      throw new Error("sync");
    };
    await expect(head.run(boom, deadline())).rejects.toThrow("sync");
    expect(head.inflight).toBe(0);
    await expect(head.run(() => Promise.resolve(1), deadline())).resolves.toBe(1);
  });

  it("BulkheadSet keeps one bulkhead per node", async () => {
    const clock = new FakeClock();
    const set = new BulkheadSet(clock, { maxInflight: 1, maxQueue: 0 });
    const d = Deadline.after(100, clock);
    const gate = deferred<number>();
    const a = set.run("a", () => gate.promise, d);
    await expect(set.run("b", () => Promise.resolve(2), d)).resolves.toBe(2);
    await expect(set.run("a", () => Promise.resolve(3), d)).rejects.toMatchObject({
      data: { reason: "bulkhead_full" },
    });
    gate.resolve(1);
    await expect(a).resolves.toBe(1);
  });
});
