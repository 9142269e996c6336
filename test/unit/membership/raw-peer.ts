import { decodePacket, encodeHeader, encodeMessage, encodeSync, type Message, type Packet, type StateEntry } from "../../../src/cluster/membership/messages.js";
import { decodeSync } from "../../../src/cluster/membership/messages.js";
import type { Keyring } from "../../../src/security/keyring.js";
import type { MemoryNetwork, MemoryTransport } from "../../../src/transport/memory.js";
import type { Clock } from "../../../src/util/clock.js";

/** A hand-driven member: sends crafted messages and records what it receives. */
export class RawPeer {
  readonly transport: MemoryTransport;
  readonly received: Packet[] = [];
  /** Optional scripted behaviour, called for each packet received. */
  onPacket: ((packet: Packet, from: string) => void) | null = null;

  constructor(
    net: MemoryNetwork,
    readonly name: string,
    readonly address: string,
    private readonly keyring: Keyring,
    private readonly clock: Clock,
  ) {
    this.transport = net.transport(address);
    this.transport.setPacketHandler((from, data) => {
      const plain = keyring.open(data, "gossip");
      if (!plain) return;
      const packet = decodePacket(plain);
      this.received.push(packet);
      this.onPacket?.(packet, from);
    });
  }

  send(to: string, messages: Message[], sentAt = this.clock.now()): void {
    const header = encodeHeader({ sentAt, sender: this.name });
    const body = Buffer.concat([header, ...messages.map(encodeMessage)]);
    this.transport.sendPacket(to, this.keyring.seal(body, "gossip"));
  }

  async pushPull(to: string, entries: StateEntry[]): Promise<StateEntry[]> {
    const req = encodeSync({ sentAt: this.clock.now(), sender: this.name, join: false, entries });
    const reply = await this.transport.exchange(to, this.keyring.seal(req, "sync"), 1000);
    const plain = this.keyring.open(reply, "sync");
    if (!plain) throw new Error("reply not authentic");
    return decodeSync(plain).entries;
  }

  messages(): Message[] {
    return this.received.flatMap((p) => p.messages);
  }
}
