/**
 * Recognising news this member already holds from the bytes, before decoding it. In a join
 * burst every member receives each alive about every other member retransmit-limit times
 * (16 × N² receptions over the cluster) and all but the first change nothing; decoding one
 * meant a message object, two strings, a view of its metadata, the metadata's validation and
 * a dispatch. An alive is skipped here only when the member table would ignore it anyway:
 * a member other than us, held at the same address and metadata (so every field is one this
 * node accepted before) at an incarnation at least as high. It is still counted as received.
 */

/** What the table holds about a member, as far as an alive about it is concerned. */
export interface HeldMember {
  name: string;
  address: string;
  incarnation: number;
  meta: Uint8Array;
}

/** FNV-1a over a short ASCII string's bytes (seeded with its length); -1 when a byte is not ASCII. */
export function asciiHash(buf: Uint8Array, start: number, length: number): number {
  let h = 0x811c9dc5 ^ length;
  for (let i = start; i < start + length; i++) {
    const c = buf[i]!;
    if (c >= 0x80) return -1;
    h = Math.imul(h ^ c, 0x01000193);
  }
  return h;
}

function hashOf(s: string): number {
  let h = 0x811c9dc5 ^ s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) return -1;
    h = Math.imul(h ^ c, 0x01000193);
  }
  return h;
}

/** The bytes are `s` in ASCII (a byte ≥ 0x80 never matches: the decoder reads those as UTF-8). */
function sameAscii(buf: Uint8Array, start: number, length: number, s: string): boolean {
  if (s.length !== length) return false;
  for (let i = 0; i < length; i++) {
    const c = buf[start + i]!;
    if (c >= 0x80 || c !== s.charCodeAt(i)) return false;
  }
  return true;
}

function sameBytes(buf: Uint8Array, start: number, length: number, b: Uint8Array): boolean {
  if (b.length !== length) return false;
  for (let i = 0; i < length; i++) if (buf[start + i] !== b[i]) return false;
  return true;
}

/**
 * Members by the hash of their name's bytes, so that a name in a packet is found without
 * decoding it into a string. ASCII names only; a collision keeps the first member (the
 * other is simply never recognised, and its news is decoded as before).
 */
export class NameIndex<M extends HeldMember> {
  private readonly byHash = new Map<number, M>();

  add(member: M): void {
    const h = hashOf(member.name);
    if (h !== -1 && !this.byHash.has(h)) this.byHash.set(h, member);
  }

  remove(member: M): void {
    const h = hashOf(member.name);
    if (this.byHash.get(h) === member) this.byHash.delete(h);
  }

  find(buf: Uint8Array, start: number, length: number): M | undefined {
    const h = asciiHash(buf, start, length);
    if (h === -1) return undefined;
    const m = this.byHash.get(h);
    return m !== undefined && sameAscii(buf, start, length, m.name) ? m : undefined;
  }
}

/**
 * Whether the alive at `pos` — name, address, u64 incarnation, then metadata, strings and
 * bytes length-prefixed (a push-pull `stateEntry`: its state byte before the metadata) — is
 * news the receiver holds in `held` (members other than itself), `ceiling` the highest
 * incarnation believable now. `end` bounds the fields
 * (anything that overruns it is left to the full decoder, which rejects it as it always
 * did); `next` receives the position after the metadata. Members named by news not skipped
 * go into `touched`, so a later copy in the same packet is decoded too: the earlier one may
 * change the member on dispatch (an alive at another address), and the skip decision is
 * taken against the table as it was before the packet.
 */
export function heldAlive(
  buf: Uint8Array,
  pos: number,
  end: number,
  held: NameIndex<HeldMember>,
  ceiling: number,
  touched: HeldMember[],
  next: { pos: number },
  stateEntry = false,
): boolean {
  if (pos + 2 > end) return false;
  const nameLength = (buf[pos]! << 8) | buf[pos + 1]!;
  const nameStart = pos + 2;
  const addressAt = nameStart + nameLength;
  if (addressAt + 2 > end) return false;
  const addressLength = (buf[addressAt]! << 8) | buf[addressAt + 1]!;
  const addressStart = addressAt + 2;
  const incarnationAt = addressStart + addressLength;
  // A state entry (push-pull) has its state between incarnation and metadata: alive is 0.
  const metaAt = incarnationAt + (stateEntry ? 9 : 8);
  if (metaAt + 2 > end || (stateEntry && buf[incarnationAt + 8] !== 0)) return false;
  const metaLength = (buf[metaAt]! << 8) | buf[metaAt + 1]!;
  const metaStart = metaAt + 2;
  if (metaStart + metaLength > end) return false;
  const member = held.find(buf, nameStart, nameLength);
  // News above the ceiling is dropped as implausible, never ignored as held (a wall clock set back).
  if (member === undefined || member.incarnation > ceiling) return false;
  const high = ((buf[incarnationAt]! << 24) | (buf[incarnationAt + 1]! << 16) | (buf[incarnationAt + 2]! << 8) | buf[incarnationAt + 3]!) >>> 0;
  const low = ((buf[incarnationAt + 4]! << 24) | (buf[incarnationAt + 5]! << 16) | (buf[incarnationAt + 6]! << 8) | buf[incarnationAt + 7]!) >>> 0;
  const incarnation = high * 0x1_0000_0000 + low;
  const known =
    incarnation <= member.incarnation &&
    sameAscii(buf, addressStart, addressLength, member.address) &&
    sameBytes(buf, metaStart, metaLength, member.meta) &&
    !touched.includes(member);
  if (!known) {
    touched.push(member);
    return false;
  }
  next.pos = metaStart + metaLength;
  return true;
}
