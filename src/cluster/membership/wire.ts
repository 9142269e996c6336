import type { Keyring } from "../../security/keyring.js";
import type { Transport } from "../../transport/transport.js";
import type { BroadcastQueue } from "./broadcast-queue.js";
import {
  assemblePacket,
  CodecError,
  decodePacket,
  decodeSync,
  encodeHeader,
  encodeMessage,
  encodeSync,
  MessageType,
  type Message,
  type Packet,
  type StateEntry,
  type SyncPayload,
} from "./messages.js";

/**
 * Sealing, replay window and batching. Every packet is sealed with the keyring (purpose
 * "gossip", exchanges "sync") and carries the sender's wall-clock time inside the seal:
 * anything older or newer than REPLAY_WINDOW_MS is dropped. Within the window a replay is
 * harmless by construction — state news is ordered by incarnation, so an old message is
 * ignored and a current one is idempotent — so we keep no nonce cache.
 */
export const REPLAY_WINDOW_MS = 30_000;
export const GOSSIP_PURPOSE = "gossip";
export const SYNC_PURPOSE = "sync";

export interface MembershipMetricsSink {
  message(type: string, direction: "in" | "out"): void;
  dropped(reason: string): void;
  probeRtt(ms: number): void;
}

export const MESSAGE_NAMES: Record<MessageType, string> = {
  [MessageType.Ping]: "ping",
  [MessageType.PingReq]: "ping-req",
  [MessageType.Ack]: "ack",
  [MessageType.Nack]: "nack",
  [MessageType.Alive]: "alive",
  [MessageType.Suspect]: "suspect",
  [MessageType.Dead]: "dead",
};

export class Wire {
  private readonly budget: number;

  constructor(
    private readonly transport: Transport,
    private readonly keyring: Keyring,
    private readonly selfName: string,
    private readonly broadcasts: BroadcastQueue,
    private readonly metrics: MembershipMetricsSink,
    private readonly wallClock: () => number,
  ) {
    this.budget = transport.maxPacketSize - keyring.overhead;
  }

  /** Sends `primary` messages plus as many queued broadcasts as fit in one packet. */
  send(to: string, primary: readonly Message[]): void {
    const header = encodeHeader({ sentAt: this.wallClock(), sender: this.selfName });
    const parts: Uint8Array[] = primary.map(encodeMessage);
    let used = header.length;
    for (const p of parts) used += p.length;
    for (const m of primary) this.metrics.message(MESSAGE_NAMES[m.type], "out");
    const extra = this.broadcasts.take(0, this.budget - used);
    this.countBroadcasts(extra);
    this.transport.sendPacket(to, this.keyring.seal(assemblePacket(header, [...parts, ...extra]), GOSSIP_PURPOSE));
  }

  /** A gossip-only packet; false when there was nothing to say. */
  gossip(to: string): boolean {
    const header = encodeHeader({ sentAt: this.wallClock(), sender: this.selfName });
    const extra = this.broadcasts.take(0, this.budget - header.length);
    if (extra.length === 0) return false;
    this.countBroadcasts(extra);
    this.transport.sendPacket(to, this.keyring.seal(assemblePacket(header, extra), GOSSIP_PURPOSE));
    return true;
  }

  /** Opens and decodes a packet; null (and a counted drop) for anything not acceptable. */
  receive(data: Uint8Array): Packet | null {
    const plain = this.keyring.open(data, GOSSIP_PURPOSE);
    if (!plain) return this.drop("unauthenticated");
    let packet: Packet;
    try {
      packet = decodePacket(plain);
    } catch (err) {
      return this.drop(err instanceof CodecError ? "decode" : "decode-internal");
    }
    if (!this.fresh(packet.sentAt)) return this.drop("replay-window");
    if (packet.sender === this.selfName) return this.drop("from-self");
    if (packet.unknown > 0) this.metrics.dropped("unknown-message-type");
    for (const m of packet.messages) this.metrics.message(MESSAGE_NAMES[m.type], "in");
    return packet;
  }

  sealSync(join: boolean, entries: StateEntry[]): Buffer {
    this.metrics.message(join ? "join" : "push-pull", "out");
    const payload: SyncPayload = { sentAt: this.wallClock(), sender: this.selfName, join, entries };
    return this.keyring.seal(encodeSync(payload), SYNC_PURPOSE);
  }

  openSync(data: Uint8Array): SyncPayload | null {
    const plain = this.keyring.open(data, SYNC_PURPOSE);
    if (!plain) return this.drop("unauthenticated");
    let payload: SyncPayload;
    try {
      payload = decodeSync(plain);
    } catch {
      return this.drop("decode");
    }
    if (!this.fresh(payload.sentAt)) return this.drop("replay-window");
    if (payload.sender === this.selfName) return this.drop("from-self");
    this.metrics.message(payload.join ? "join" : "push-pull", "in");
    return payload;
  }

  drop(reason: string): null {
    this.metrics.dropped(reason);
    return null;
  }

  private fresh(sentAt: number): boolean {
    return Number.isFinite(sentAt) && Math.abs(this.wallClock() - sentAt) <= REPLAY_WINDOW_MS;
  }

  private countBroadcasts(parts: readonly Uint8Array[]): void {
    for (const p of parts) {
      const name = MESSAGE_NAMES[p[0] as MessageType];
      if (name) this.metrics.message(name, "out");
    }
  }
}
