/**
 * The probe order: a list of member names with insertion at any index and reads by index,
 * both in O(√N) (chunks of up to 2 × CHUNK names) instead of an array's O(N) insert. Every
 * member inserts every other one at a random index, which was N² element moves per member
 * (N³ for a simulated cluster).
 */
const CHUNK = 256;

export class ProbeOrder {
  private chunks: string[][];
  length: number;

  constructor(names: string[] = []) {
    this.chunks = [];
    for (let i = 0; i < names.length; i += CHUNK) this.chunks.push(names.slice(i, i + CHUNK));
    if (this.chunks.length === 0) this.chunks.push([]);
    this.length = names.length;
  }

  /** The name at `index` (0 ≤ index < length). */
  at(index: number): string | undefined {
    let i = index;
    for (const chunk of this.chunks) {
      if (i < chunk.length) return chunk[i];
      i -= chunk.length;
    }
    return undefined;
  }

  /** Inserts `name` before the one at `index` (at the end for index = length). */
  insert(index: number, name: string): void {
    let i = index;
    let c = 0;
    while (c < this.chunks.length - 1 && i > this.chunks[c]!.length) {
      i -= this.chunks[c]!.length;
      c++;
    }
    // i ≤ chunk length here, except past the end of the last chunk (clamped like splice).
    const chunk = this.chunks[c]!;
    chunk.splice(i, 0, name);
    this.length++;
    if (chunk.length > 2 * CHUNK) this.chunks.splice(c, 1, chunk.slice(0, CHUNK), chunk.slice(CHUNK));
  }

  toArray(): string[] {
    return this.chunks.flat();
  }
}
