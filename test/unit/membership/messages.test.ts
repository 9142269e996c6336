import { describe, expect, it } from "vitest";
import {
  CodecError,
  decodePacket,
  decodeSync,
  encodeHeader,
  encodeMessage,
  encodeSync,
  MessageType,
  PROTOCOL_VERSION,
  type Message,
} from "../../../src/cluster/membership/messages.js";

const meta = new Uint8Array([1, 2, 3]);
const all: Message[] = [
  { type: MessageType.Ping, seq: 1, target: "b" },
  { type: MessageType.PingReq, seq: 2, target: "c", targetAddress: "c:1" },
  { type: MessageType.Ack, seq: 3 },
  { type: MessageType.Nack, seq: 4 },
  { type: MessageType.Alive, name: "nœud-é", address: "d:1", incarnation: 7, meta },
  { type: MessageType.Suspect, name: "e", incarnation: 8, from: "a" },
  { type: MessageType.Dead, name: "f", incarnation: 9, from: "f" },
];

describe("membership wire codec", () => {
  it("round-trips every message type batched in one packet, with version and sender", () => {
    const packet = Buffer.concat([encodeHeader({ sentAt: 1234.5, sender: "a" }), ...all.map(encodeMessage)]);
    expect(packet[0]).toBe(PROTOCOL_VERSION);
    const decoded = decodePacket(packet);
    expect(decoded.sender).toBe("a");
    expect(decoded.sentAt).toBe(1234.5);
    expect(decoded.unknown).toBe(0);
    expect(decoded.messages.map((m) => ({ ...m, ...("meta" in m ? { meta: [...m.meta] } : {}) }))).toEqual(
      all.map((m) => ({ ...m, ...("meta" in m ? { meta: [...m.meta] } : {}) })),
    );
  });

  it("skips message types it does not know (append-only enum) and keeps the rest", () => {
    const future = Buffer.from([200, 0, 3, 9, 9, 9]);
    const packet = Buffer.concat([encodeHeader({ sentAt: 0, sender: "a" }), future, encodeMessage(all[2]!)]);
    const decoded = decodePacket(packet);
    expect(decoded.unknown).toBe(1);
    expect(decoded.messages).toEqual([all[2]]);
  });

  it("rejects truncated packets, other protocol versions and overrunning bodies", () => {
    const good = Buffer.concat([encodeHeader({ sentAt: 0, sender: "a" }), encodeMessage(all[4]!)]);
    expect(() => decodePacket(good.subarray(0, good.length - 1))).toThrow(CodecError);
    const otherVersion = Buffer.from(good);
    otherVersion[0] = 99;
    expect(() => decodePacket(otherVersion)).toThrow(CodecError);
    const lying = Buffer.concat([encodeHeader({ sentAt: 0, sender: "a" }), Buffer.from([MessageType.Ack, 0, 1, 0])]);
    expect(() => decodePacket(lying)).toThrow(CodecError);
  });

  it("round-trips a push-pull state", () => {
    const entries = [
      { name: "a", address: "a:1", incarnation: 1, state: "alive" as const, meta },
      { name: "b", address: "b:1", incarnation: 2, state: "left" as const, meta: new Uint8Array() },
    ];
    const decoded = decodeSync(encodeSync({ sentAt: 5, sender: "a", join: true, entries }));
    expect(decoded.join).toBe(true);
    expect(decoded.entries.map((e) => ({ ...e, meta: [...e.meta] }))).toEqual(entries.map((e) => ({ ...e, meta: [...e.meta] })));
  });
});
