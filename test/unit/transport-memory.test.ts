import { describe, expect, it } from "vitest";
import { MemoryNetwork } from "../../src/transport/memory.js";
import { FakeClock } from "../../src/util/clock.js";
import { SeededRandom } from "../../src/util/random.js";

function setup(options: ConstructorParameters<typeof MemoryNetwork>[2] = {}) {
  const clock = new FakeClock();
  const net = new MemoryNetwork(clock, new SeededRandom(1), options);
  const a = net.transport("a:1");
  const b = net.transport("b:1");
  const got: Array<[string, string]> = [];
  b.setPacketHandler((from, data) => got.push([from, new TextDecoder().decode(data)]));
  return { clock, net, a, b, got };
}
const bytes = (s: string) => new TextEncoder().encode(s);
const flush = () => new Promise<void>((r) => setImmediate(r));

describe("MemoryNetwork", () => {
  it("delivers packets after the link delay, with the sender's address", () => {
    const { clock, net, a, got } = setup();
    net.setLink("a:1", "b:1", { delayMs: 50 });
    a.sendPacket("b:1", bytes("hi"));
    clock.advance(49);
    expect(got).toEqual([]);
    clock.advance(1);
    expect(got).toEqual([["a:1", "hi"]]);
  });

  it("loses about the configured fraction of packets", () => {
    const { clock, net, a, got } = setup();
    net.setDefaultLink({ loss: 0.3 });
    for (let i = 0; i < 2000; i++) a.sendPacket("b:1", bytes("x"));
    clock.advance(10);
    expect(got.length).toBeGreaterThan(1300);
    expect(got.length).toBeLessThan(1500);
  });

  it("drops packets larger than maxPacketSize", () => {
    const { clock, a, got } = setup({ maxPacketSize: 10 });
    a.sendPacket("b:1", new Uint8Array(11));
    a.sendPacket("b:1", new Uint8Array(10));
    clock.advance(10);
    expect(got).toHaveLength(1);
  });

  it("partition cuts both directions until heal; block cuts one", () => {
    const { clock, net, a, b, got } = setup();
    const gotA: string[] = [];
    a.setPacketHandler((from) => gotA.push(from));
    net.partition(["a:1"], ["b:1"]);
    a.sendPacket("b:1", bytes("1"));
    b.sendPacket("a:1", bytes("1"));
    clock.advance(10);
    expect(got).toHaveLength(0);
    expect(gotA).toHaveLength(0);
    net.heal();
    net.block("a:1", "b:1");
    a.sendPacket("b:1", bytes("2"));
    b.sendPacket("a:1", bytes("2"));
    clock.advance(10);
    expect(got).toHaveLength(0);
    expect(gotA).toEqual(["b:1"]);
    net.unblock("a:1", "b:1");
    a.sendPacket("b:1", bytes("3"));
    clock.advance(10);
    expect(got).toEqual([["a:1", "3"]]);
  });

  it("exchange is a request/response, refused by a closed peer, timed out across a partition", async () => {
    const { clock, net, a, b } = setup();
    b.setExchangeHandler(async (from, data) => bytes(`${from}:${new TextDecoder().decode(data)}`));
    const reply = a.exchange("b:1", bytes("ping"), 1000);
    clock.advance(5);
    await flush();
    clock.advance(5);
    expect(new TextDecoder().decode(await reply)).toBe("a:1:ping");

    net.partition(["a:1"], ["b:1"]);
    const cut = a.exchange("b:1", bytes("x"), 1000);
    clock.advance(1000);
    await expect(cut).rejects.toThrow(/timed out/);
    net.heal();

    await b.close();
    await expect(a.exchange("b:1", bytes("x"), 1000)).rejects.toThrow(/refused/);
    await expect(a.exchange("nobody:1", bytes("x"), 1000)).rejects.toThrow(/refused/);
  });

  it("a closed address can be bound again (restart), an open one cannot", async () => {
    const { net, b } = setup();
    expect(() => net.transport("b:1")).toThrow(/in use/);
    await b.close();
    expect(() => net.transport("b:1")).not.toThrow();
  });

  it("a stalled node gets its packets and timers late, in order, when the stall ends", () => {
    const { clock, net, a, got } = setup();
    const bClock = net.clockFor("b:1");
    const fired: number[] = [];
    bClock.setTimeout(() => fired.push(clock.now()), 100);
    net.stall("b:1", 500);
    a.sendPacket("b:1", bytes("during"));
    clock.advance(499);
    expect(got).toHaveLength(0);
    expect(fired).toHaveLength(0);
    expect(net.isStalled("b:1")).toBe(true);
    clock.advance(1);
    expect(got).toEqual([["a:1", "during"]]);
    expect(fired).toEqual([500]);
  });

  it("counts traffic per address", () => {
    const { clock, net, a } = setup();
    a.sendPacket("b:1", bytes("abc"));
    clock.advance(5);
    expect(net.traffic("a:1")).toMatchObject({ packetsOut: 1, bytesOut: 3 });
    expect(net.traffic("b:1")).toMatchObject({ packetsIn: 1, bytesIn: 3 });
    expect(net.traffic()).toMatchObject({ packetsOut: 1, packetsIn: 1 });
  });
});
