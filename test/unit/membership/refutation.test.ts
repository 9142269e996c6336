import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Membership, type Member } from "../../../src/cluster/membership/membership.js";
import { MessageType, type Message, type Packet } from "../../../src/cluster/membership/messages.js";
import { Keyring } from "../../../src/security/keyring.js";
import { MemoryNetwork } from "../../../src/transport/memory.js";
import { FakeClock } from "../../../src/util/clock.js";
import { SeededRandom } from "../../../src/util/random.js";
import { RawPeer } from "./raw-peer.js";

/**
 * A refutation has to reach the member whose suspicion timer is running. Gossip usually
 * carries it, but it is retransmit-limited: these cover the direct paths that remain.
 */
const A = "a:7946";
let clock: FakeClock;
let net: MemoryNetwork;
let keyring: Keyring;
let node: Membership;

const alive = (name: string, incarnation: number): Message => ({ type: MessageType.Alive, name, address: `${name}:7946`, incarnation, meta: new Uint8Array() });
const view = (name: string): Member | undefined => node.members().find((m) => m.name === name);
const aliveAbout = (p: Packet, name: string, inc: number): boolean =>
  p.messages.some((m) => m.type === MessageType.Alive && m.name === name && m.incarnation === inc);
async function settle(ms = 10): Promise<void> {
  for (let t = 0; t < ms; t += 10) {
    clock.advance(10);
    await new Promise<void>((r) => setImmediate(r));
  }
}
function rawPeer(name: string): RawPeer {
  const peer = new RawPeer(net, name, `${name}:7946`, keyring, clock);
  peer.send(A, [alive(name, 0)]);
  return peer;
}

beforeEach(() => {
  clock = new FakeClock();
  net = new MemoryNetwork(clock, new SeededRandom(1));
  keyring = Keyring.fromSecret("test-secret");
  node = new Membership({ name: "a", transport: net.transport(A), keyring, meta: new Uint8Array(), clock, random: new SeededRandom(2) });
});

afterEach(async () => {
  await node.shutdown();
});

describe("direct refutation", () => {
  it("answers every suspicion notice its accuser sends itself, not only the first", async () => {
    const p = rawPeer("p");
    await settle();
    for (let i = 0; i < 3; i++) {
      p.send(A, [{ type: MessageType.Suspect, name: "a", incarnation: 0, from: "p" }]);
      await settle();
    }
    expect(node.localMember().incarnation).toBe(1); // refuted once
    expect(p.received.filter((pk) => aliveAbout(pk, "a", 1))).toHaveLength(3); // told each time
  });

  it("a member we hold dead that talks to us is told so, and its answer revives it at once", async () => {
    const p = rawPeer("p");
    p.onPacket = (packet, from) => {
      if (packet.messages.some((m) => m.type === MessageType.Dead && m.name === "p" && m.from === "a")) p.send(from, [alive("p", 1)]);
    };
    await settle();
    p.send(A, [{ type: MessageType.Dead, name: "p", incarnation: 0, from: "q" }]);
    await settle();
    expect(view("p")?.state).toBe("dead");
    p.send(A, [{ type: MessageType.Ping, seq: 1, target: "a" }]);
    await settle(20);
    expect(view("p")).toMatchObject({ state: "alive", incarnation: 1 });
  });

  it("an overdue confirmation does not kill a member whose refutation arrived with it", async () => {
    const p = rawPeer("p");
    p.send(A, [alive("x", 0), { type: MessageType.Suspect, name: "x", incarnation: 0, from: "p" }]);
    await settle();
    const states: string[] = [];
    node.onChange((m) => void (m.name === "x" && states.push(m.state)));
    await settle(2_000); // past the minimum: one confirmation is now enough to fire
    p.send(A, [{ type: MessageType.Suspect, name: "x", incarnation: 0, from: "q" }, alive("x", 1)]);
    await settle(20);
    expect(view("x")).toMatchObject({ state: "alive", incarnation: 1 });
    expect(states).toEqual(["alive"]);
  });

  it("keeps telling a suspect while it suspects it, so lost answers do not get it declared dead", async () => {
    // 21 members: the round-robin reaches p about once per 8 s, the suspicion window is ~9.5 s.
    const peers = Array.from({ length: 20 }, (_, i) => rawPeer(`m${i}`));
    for (const peer of peers) {
      peer.onPacket = (packet, from) => {
        for (const m of packet.messages) if (m.type === MessageType.Ping) peer.send(from, [{ type: MessageType.Ack, seq: m.seq }]);
      };
    }
    const p = peers[0]!;
    const pingAck = p.onPacket!;
    let lost = 0;
    p.onPacket = (packet, from) => {
      pingAck(packet, from);
      const notice = packet.messages.some((m) => m.type === MessageType.Suspect && m.name === "m0" && m.from === "a");
      if (notice && lost++ >= 2) p.send(from, [alive("m0", 1)]); // the first two answers are lost
    };
    node.start();
    await settle(2_000);
    peers[1]!.send(A, [{ type: MessageType.Suspect, name: "m0", incarnation: 0, from: "m1" }]);
    await settle(10);
    expect(view("m0")?.state).toBe("suspect");
    const states = new Set<string>();
    node.onChange((m) => void (m.name === "m0" && states.add(m.state)));
    await settle(3_000);
    expect(view("m0")).toMatchObject({ state: "alive", incarnation: 1 });
    expect(states.has("dead")).toBe(false);
  });
});
