import { randomFillSync } from "node:crypto";
import type { Keyring } from "../security/keyring.js";
import type { ExchangeGuard } from "../transport/udp.js";
import { packetId, ReplayFilter } from "./membership/replay-filter.js";
import { REPLAY_WINDOW_MS } from "./membership/wire.js";

/**
 * Tickets of push-pull exchanges: [sent at f64][request length u32][random 8], sealed with the
 * cluster key (purpose "sync-ticket"). A node reads a request only after its ticket opened,
 * is fresh (within the replay window) and was not seen before, and only up to the length
 * it vouches for: before the key is proven, a peer can make it read ~100 bytes.
 * Without a cluster key (development mode) tickets are plaintext and prove nothing.
 */
const PURPOSE = "sync-ticket";
/** sent at (8), length (4), random (8): unique even unsealed, for the replay filter. */
const TICKET_BYTES = 20;

export class SyncTickets implements ExchangeGuard {
  private readonly replays: ReplayFilter;

  constructor(
    private readonly keyring: Keyring,
    private readonly wallClock: () => number = Date.now,
  ) {
    this.replays = new ReplayFilter(REPLAY_WINDOW_MS, wallClock);
  }

  ticket(length: number): Uint8Array {
    const plain = Buffer.alloc(TICKET_BYTES);
    plain.writeDoubleBE(this.wallClock(), 0);
    plain.writeUInt32BE(length, 8);
    randomFillSync(plain, 12, 8);
    return this.keyring.seal(plain, PURPOSE);
  }

  admit(ticket: Uint8Array): number | null {
    const plain = this.keyring.open(ticket, PURPOSE);
    if (!plain || plain.length !== TICKET_BYTES) return null;
    const sentAt = plain.readDoubleBE(0);
    if (!Number.isFinite(sentAt) || Math.abs(this.wallClock() - sentAt) > REPLAY_WINDOW_MS) return null;
    if (!this.replays.firstSeen(packetId(ticket, this.keyring.encrypted))) return null;
    return plain.readUInt32BE(8);
  }
}
