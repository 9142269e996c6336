import { createHash } from "node:crypto";

/**
 * Remembers the authentic packets seen recently, so that one replayed within the replay
 * window is dropped instead of answered (a replayed ping would otherwise make this node
 * send an ack wherever the replayer points it). Only packets that passed authentication
 * are remembered, so the unauthenticated can not fill it. Three generations of one
 * window each: a packet is remembered for two windows at least, which covers its whole
 * acceptance span (sent up to one window in the past or the future). Bounded: a generation
 * that fills up early is rotated sooner, which only shortens memory under a flood.
 */
export class ReplayFilter {
  private generations: Set<string>[] = [new Set(), new Set(), new Set()];
  private rotatedAt: number;

  constructor(
    private readonly windowMs: number,
    private readonly now: () => number,
    private readonly maxPerGeneration = 20_000,
  ) {
    this.rotatedAt = now();
  }

  /** True the first time `id` is seen; false for a replay. */
  firstSeen(id: string): boolean {
    const now = this.now();
    if (now - this.rotatedAt >= this.windowMs || this.generations[0]!.size >= this.maxPerGeneration) {
      this.generations = [new Set(), this.generations[0]!, this.generations[1]!];
      this.rotatedAt = now;
    }
    for (const g of this.generations) if (g.has(id)) return false;
    this.generations[0]!.add(id);
    return true;
  }
}

/**
 * The identity of a packet as received: sealed packets end in a 16-byte GCM tag, unique
 * per seal; plaintext ones (development mode) are hashed.
 */
export function packetId(data: Uint8Array, sealed: boolean): string {
  const buf = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (sealed && buf.length >= 16) return buf.toString("latin1", buf.length - 16);
  return createHash("sha256").update(buf).digest().toString("latin1", 0, 16);
}
