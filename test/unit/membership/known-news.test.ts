import { describe, expect, it } from "vitest";
import { NameIndex, type HeldMember } from "../../../src/cluster/membership/known-news.js";
import { assemblePacket, decodePacket, decodeSync, encodeHeader, encodeMessage, encodeSync, MessageType, type AliveMsg, type Message } from "../../../src/cluster/membership/messages.js";

const held: HeldMember = { name: "n7", address: "n7:7946", incarnation: 5, meta: Buffer.from("m") };
const index = new NameIndex<HeldMember>();
index.add(held);
const lookup = index;

function alive(fields: Partial<AliveMsg> = {}): AliveMsg {
  return { type: MessageType.Alive, name: "n7", address: "n7:7946", incarnation: 5, meta: Buffer.from("m"), ...fields };
}

function packet(messages: Message[]): Buffer {
  return assemblePacket(encodeHeader({ sentAt: 1, sender: "n1" }), messages.map(encodeMessage));
}

describe("news already held is not decoded", () => {
  it("skips an alive no newer than the member held, at its address and metadata, and counts it", () => {
    const p = decodePacket(packet([alive(), alive({ incarnation: 4 })]), lookup);
    expect(p.held).toBe(2);
    expect(p.messages).toEqual([]);
  });

  it("decodes news that would change something, or about a member not held", () => {
    const news = [alive({ incarnation: 6 }), alive({ name: "n8", address: "n8:7946" })];
    const p = decodePacket(packet(news), lookup);
    expect(p.held).toBe(0);
    expect(p.messages.map((m) => (m as AliveMsg).name)).toEqual(["n7", "n8"]);
    expect(decodePacket(packet([alive({ meta: Buffer.from("other") })]), lookup).held).toBe(0);
    expect(decodePacket(packet([alive({ address: "n7:7947" })]), lookup).held).toBe(0);
    // Held above the incarnation ceiling (a wall clock set back): decoded, and dropped as implausible.
    expect(decodePacket(packet([alive({ incarnation: 4 })]), lookup, 4).held).toBe(0);
  });

  it("decodes a copy that follows news about the same member in the packet (it may change the member first)", () => {
    const p = decodePacket(packet([alive({ address: "n7:9999", incarnation: 1 }), alive()]), lookup);
    expect(p.held).toBe(0);
    expect(p.messages).toHaveLength(2);
  });

  it("leaves a malformed alive to the decoder, which rejects the packet as before", () => {
    const bytes = packet([alive()]);
    const cut = bytes.subarray(0, bytes.length - 1);
    expect(() => decodePacket(cut, lookup)).toThrow();
    expect(() => decodePacket(cut)).toThrow();
  });

  it("skips held alive entries of a push-pull, not other states", () => {
    const entries = [
      { name: "n7", address: "n7:7946", incarnation: 5, state: "alive" as const, meta: Buffer.from("m") },
      { name: "n7", address: "n7:7946", incarnation: 5, state: "suspect" as const, meta: Buffer.from("m") },
      { name: "n9", address: "n9:7946", incarnation: 1, state: "alive" as const, meta: Buffer.from("") },
    ];
    const payload = decodeSync(encodeSync({ sentAt: 1, sender: "n1", join: false, entries }), lookup);
    expect(payload.entries.map((e) => `${e.name}/${e.state}`)).toEqual(["n7/suspect", "n9/alive"]);
  });
});
