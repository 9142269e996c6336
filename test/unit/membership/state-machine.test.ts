import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Membership, type Member } from "../../../src/cluster/membership/membership.js";
import { MessageType } from "../../../src/cluster/membership/messages.js";
import { Keyring } from "../../../src/security/keyring.js";
import { MemoryNetwork } from "../../../src/transport/memory.js";
import { FakeClock } from "../../../src/util/clock.js";
import { SeededRandom } from "../../../src/util/random.js";
import { RawPeer } from "./raw-peer.js";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

let clock: FakeClock;
let net: MemoryNetwork;
let keyring: Keyring;
let node: Membership;
let peer: RawPeer;
let changes: Array<{ member: Member; previous: Member | null }>;
const A = "a:7946";

function view(name: string): Member | undefined {
  return node.members().find((m) => m.name === name);
}
function alive(name: string, incarnation: number, address = `${name}:7946`, meta = "") {
  return { type: MessageType.Alive as const, name, address, incarnation, meta: enc(meta) };
}
async function settle(ms = 10): Promise<void> {
  clock.advance(ms);
  await new Promise<void>((r) => setImmediate(r));
}

beforeEach(() => {
  clock = new FakeClock();
  net = new MemoryNetwork(clock, new SeededRandom(1));
  keyring = Keyring.fromSecret("test-secret");
  node = new Membership({ name: "a", transport: net.transport(A), keyring, meta: enc("m0"), clock, random: new SeededRandom(2) });
  peer = new RawPeer(net, "p", "p:7946", keyring, clock);
  changes = [];
  node.onChange((member, previous) => changes.push({ member, previous }));
  peer.send(A, [alive("p", 0)]);
  clock.advance(5);
});

afterEach(async () => {
  await node.shutdown();
});

describe("membership state machine", () => {
  it("learns a member from an alive message and reports the join", () => {
    expect(view("p")).toMatchObject({ state: "alive", incarnation: 0, address: "p:7946" });
    expect(changes[0]).toMatchObject({ member: { name: "p", state: "alive" }, previous: null });
  });

  it("refutes a suspicion about itself with inc = max(own+1, accused+1)", async () => {
    peer.send(A, [{ type: MessageType.Suspect, name: "a", incarnation: 0, from: "p" }]);
    await settle();
    expect(node.localMember()).toMatchObject({ state: "alive", incarnation: 1 });
    peer.send(A, [{ type: MessageType.Dead, name: "a", incarnation: 5, from: "p" }]);
    await settle();
    expect(node.localMember()).toMatchObject({ state: "alive", incarnation: 6 });
    node.start();
    await settle(1000);
    const refutations = peer.messages().filter((m) => m.type === MessageType.Alive && m.name === "a");
    expect(refutations.some((m) => m.type === MessageType.Alive && m.incarnation === 6)).toBe(true);
  });

  it("ignores a suspicion older than the known incarnation", () => {
    peer.send(A, [alive("x", 5)]);
    peer.send(A, [{ type: MessageType.Suspect, name: "x", incarnation: 3, from: "p" }]);
    clock.advance(5);
    expect(view("x")).toMatchObject({ state: "alive", incarnation: 5 });
    peer.send(A, [{ type: MessageType.Suspect, name: "x", incarnation: 5, from: "p" }]);
    clock.advance(5);
    expect(view("x")).toMatchObject({ state: "suspect", incarnation: 5 });
  });

  it("a dead member stays dead on an alive with the same incarnation, revives with a higher one", () => {
    peer.send(A, [alive("x", 1), { type: MessageType.Dead, name: "x", incarnation: 1, from: "p" }]);
    clock.advance(5);
    expect(view("x")?.state).toBe("dead");
    peer.send(A, [alive("x", 1)]);
    clock.advance(5);
    expect(view("x")?.state).toBe("dead");
    peer.send(A, [alive("x", 2)]);
    clock.advance(5);
    expect(view("x")).toMatchObject({ state: "alive", incarnation: 2 });
  });

  it("dead about oneself from oneself means left", () => {
    peer.send(A, [alive("x", 1), { type: MessageType.Dead, name: "x", incarnation: 1, from: "x" }]);
    clock.advance(5);
    expect(view("x")?.state).toBe("left");
    expect(changes.at(-1)).toMatchObject({ member: { name: "x", state: "left" }, previous: { state: "alive" } });
  });

  it("a meta change fires an update with the previous meta", () => {
    peer.send(A, [alive("x", 1, "x:7946", "one")]);
    clock.advance(5);
    peer.send(A, [alive("x", 2, "x:7946", "two")]);
    clock.advance(5);
    const last = changes.at(-1)!;
    expect(dec(last.member.meta)).toBe("two");
    expect(dec(last.previous!.meta)).toBe("one");
  });

  it("updateMeta bumps the incarnation and notifies", () => {
    node.updateMeta(enc("m1"));
    expect(node.localMember()).toMatchObject({ incarnation: 1 });
    expect(dec(changes.at(-1)!.member.meta)).toBe("m1");
  });

  it("the same name at a new address: rejected while alive at the same incarnation, accepted with a higher one or once dead", () => {
    peer.send(A, [alive("x", 1, "x1:7946")]);
    peer.send(A, [alive("x", 1, "x2:7946")]);
    clock.advance(5);
    expect(view("x")?.address).toBe("x1:7946");
    peer.send(A, [alive("x", 2, "x2:7946")]);
    clock.advance(5);
    expect(view("x")?.address).toBe("x2:7946");
    peer.send(A, [{ type: MessageType.Dead, name: "x", incarnation: 2, from: "p" }, alive("x", 0, "x3:7946")]);
    clock.advance(5);
    expect(view("x")).toMatchObject({ address: "x3:7946", state: "alive", incarnation: 0 });
  });

  it("a remote dead in push-pull only makes the member suspect here", async () => {
    peer.send(A, [alive("x", 3)]);
    clock.advance(5);
    const reply = peer.pushPull(A, [{ name: "x", address: "x:7946", incarnation: 3, state: "dead", meta: enc("") }]);
    await settle();
    await settle();
    const entries = await reply;
    expect(entries.map((e) => e.name).sort()).toEqual(["a", "p", "x"]);
    expect(view("x")?.state).toBe("suspect");
  });

  it("a ping to a suspect carries the suspicion (buddy system)", async () => {
    peer.send(A, [{ type: MessageType.Suspect, name: "p", incarnation: 0, from: "q" }]);
    clock.advance(5);
    expect(view("p")?.state).toBe("suspect");
    node.start();
    await settle(1000);
    const packetWithPing = peer.received.find((p) => p.messages.some((m) => m.type === MessageType.Ping));
    expect(packetWithPing?.messages.some((m) => m.type === MessageType.Suspect && m.name === "p")).toBe(true);
  });

  it("a suspect that does not refute is declared dead after the suspicion timeout", async () => {
    peer.send(A, [alive("x", 0)]);
    peer.send(A, [{ type: MessageType.Suspect, name: "x", incarnation: 0, from: "p" }]);
    clock.advance(5);
    // N = 3, no confirmation → the maximum: maxMult × mult × max(1, log10 3) × interval.
    const { suspicionMult, suspicionMaxTimeoutMult, probeIntervalMs } = node.config;
    const max = suspicionMaxTimeoutMult * suspicionMult * probeIntervalMs;
    await settle(max - 100);
    expect(view("x")?.state).toBe("suspect");
    await settle(200);
    expect(view("x")?.state).toBe("dead");
  });

  it("answers a ping addressed to it, not one addressed to another name", async () => {
    peer.send(A, [{ type: MessageType.Ping, seq: 7, target: "a" }]);
    peer.send(A, [{ type: MessageType.Ping, seq: 8, target: "someone-else" }]);
    await settle();
    const acks = peer.messages().filter((m) => m.type === MessageType.Ack);
    expect(acks.map((m) => (m.type === MessageType.Ack ? m.seq : -1))).toEqual([7]);
  });
});
