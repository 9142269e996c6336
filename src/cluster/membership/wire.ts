import type { Keyring } from "../../security/keyring.js";
import type { Transport } from "../../transport/transport.js";
import type { Clock } from "../../util/clock.js";
import { BadInputLog } from "../../api/bad-input-log.js";
import type { BroadcastQueue } from "./broadcast-queue.js";
import type { Logger } from "./member-state.js";
import {
  assemblePacket,
  CodecError,
  decodePacket,
  PROTOCOL_VERSION,
  VersionError,
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
import { packetId, ReplayFilter } from "./replay-filter.js";
import { OpenBudget } from "./open-budget.js";
import { splitHostPort } from "../../transport/transport.js";
import type { HeldMember, NameIndex } from "./known-news.js";

/**
 * Sealing, replay window, validation and batching. Every packet is sealed with the keyring
 * (purpose "gossip", exchanges "sync") and carries the sender's wall-clock time inside the
 * seal: anything older or newer than REPLAY_WINDOW_MS is dropped, and within the window a
 * packet that asks for an answer and was seen before is dropped too (ReplayFilter), so a
 * replay is never answered.
 * News about members whose metadata fails `validMeta` is dropped here, message by message:
 * nothing malformed reaches the member table. Drops are counted (metrics) and logged at
 * most once per source per interval (BadInputLog).
 */
export const REPLAY_WINDOW_MS = 30_000;
/**
 * Incarnations are bounded by the wall clock: news about any member (this one included)
 * at an incarnation above `wall-clock ms + INCARNATION_LEAD_MS` is dropped. Members bump
 * theirs by one per change of metadata or refutation, far below 1,000 a second, so no
 * true news comes near; whatever a key holder forges, its owner can out-bid it with +1
 * within a millisecond of wall time, and 2^53 is some 285,000 years away.
 */
export const INCARNATION_LEAD_MS = 60_000;
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

export interface WireChecks {
  /** Member metadata acceptable to this node (the node's schema); default: anything. */
  validMeta?: (meta: Uint8Array) => boolean;
  /** Gossip addresses of the current members: always opened, whatever else their IP sends (see OpenBudget). */
  memberAddresses?: () => Iterable<string>;
  log?: Logger;
  clock?: Clock;
  /** The member table's members by raw name (known-news.ts): news it holds is not decoded. */
  held?: NameIndex<HeldMember>;
}

/** Drop reasons worth a (rate-limited) warning: someone sends us bad packets. */
const WARNED_DROPS = new Set(["unauthenticated", "decode", "protocol-version", "replay-window", "replayed", "invalid-message", "implausible-incarnation"]);

/**
 * Packets this node answers at their source address (pings, ping-reqs): a replay of one
 * would make us send to whoever replays it, so these are checked against the replay
 * filter. Everything else is harmless to repeat (news is ordered by incarnation).
 */
function answersSender(packet: Packet): boolean {
  return packet.messages.some((m) => m.type === MessageType.Ping || m.type === MessageType.PingReq);
}

export class Wire {
  private readonly budget: number;
  private readonly replays: ReplayFilter;
  private readonly validMeta: (meta: Uint8Array) => boolean;
  private readonly warnings: BadInputLog | null;
  private readonly openBudget: OpenBudget | null;
  private readonly held: NameIndex<HeldMember> | undefined;

  constructor(
    private readonly transport: Transport,
    private readonly keyring: Keyring,
    private readonly selfName: string,
    private readonly broadcasts: BroadcastQueue,
    private readonly metrics: MembershipMetricsSink,
    private readonly wallClock: () => number,
    checks: WireChecks = {},
  ) {
    this.budget = transport.maxPacketSize - keyring.overhead;
    this.replays = new ReplayFilter(REPLAY_WINDOW_MS, wallClock);
    this.validMeta = checks.validMeta ?? (() => true);
    const log = checks.log;
    this.warnings = log && checks.clock ? new BadInputLog({ logger: log, clock: checks.clock, message: "membership: dropped a bad packet" }) : null;
    this.warnings?.start();
    this.openBudget = checks.clock ? new OpenBudget({ clock: checks.clock, memberAddresses: checks.memberAddresses ?? (() => []) }) : null;
    this.held = checks.held;
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
    this.transport.sendPacket(to, this.keyring.seal(assemblePacket(header, parts, extra), GOSSIP_PURPOSE));
  }

  /** A gossip-only packet; false when there was nothing to say. */
  gossip(to: string): boolean {
    const header = encodeHeader({ sentAt: this.wallClock(), sender: this.selfName });
    const extra = this.broadcasts.take(0, this.budget - header.length);
    if (extra.length === 0) return false;
    this.countBroadcasts(extra);
    this.transport.sendPacket(to, this.keyring.seal(assemblePacket(header, [], extra), GOSSIP_PURPOSE));
    return true;
  }

  /** Opens and decodes a packet from `from`; null (and a counted drop) for anything not acceptable. */
  receive(data: Uint8Array, from = "unknown"): Packet | null {
    const ip = hostOf(from);
    if (this.openBudget && !this.openBudget.allows(ip, from)) return this.drop("unauthenticated", from);
    const plain = this.keyring.open(data, GOSSIP_PURPOSE);
    if (!plain) {
      this.openBudget?.failed(ip);
      return this.drop("unauthenticated", from);
    }
    let packet: Packet;
    try {
      packet = decodePacket(plain, this.held, this.incarnationCeiling());
    } catch (err) {
      if (err instanceof VersionError) return this.wrongVersion(err, from);
      return this.drop(err instanceof CodecError ? "decode" : "decode-internal", from);
    }
    if (!this.fresh(packet.sentAt)) return this.drop("replay-window", from);
    if (packet.sender === this.selfName) return this.drop("from-self");
    if (answersSender(packet) && !this.replays.firstSeen(packetId(data, this.keyring.encrypted))) return this.drop("replayed", from);
    if (packet.unknown > 0) this.metrics.dropped("unknown-message-type");
    // One pass (a packet holds dozens of messages): news with bad metadata, then news above
    // the incarnation ceiling, is dropped; the array is copied only when something is.
    const messages = packet.messages;
    const ceiling = this.incarnationCeiling();
    let kept: Message[] | null = null;
    let invalid = packet.invalid;
    let implausible = 0;
    for (let i = 0; i < messages.length; i++) {
      const m = messages[i]!;
      let keep = true;
      if (m.type === MessageType.Alive && !this.validMeta(m.meta)) {
        invalid++;
        keep = false;
      } else if ("incarnation" in m && m.incarnation > ceiling) {
        implausible++;
        keep = false;
      }
      if (!keep) kept ??= messages.slice(0, i);
      else if (kept) kept.push(m);
    }
    if (invalid > 0) this.drop("invalid-message", from);
    if (implausible > 0) this.drop("implausible-incarnation", from);
    if (kept) packet.messages = kept;
    for (const m of packet.messages) this.metrics.message(MESSAGE_NAMES[m.type], "in");
    for (let i = 0; i < packet.held; i++) this.metrics.message("alive", "in");
    return packet;
  }

  /** `conflict`: this join is refused, `entries` name the live member that holds the joiner's name. */
  sealSync(join: boolean, entries: StateEntry[], conflict = false): Buffer {
    this.metrics.message(join ? "join" : "push-pull", "out");
    const payload: SyncPayload = { sentAt: this.wallClock(), sender: this.selfName, join, conflict, entries };
    return this.keyring.seal(encodeSync(payload), SYNC_PURPOSE);
  }

  /** Opens a push-pull payload; `allowSelf` lets a join under our own name through (to refuse it clearly). */
  openSync(data: Uint8Array, from = "unknown", allowSelf = false): SyncPayload | null {
    const plain = this.keyring.open(data, SYNC_PURPOSE);
    if (!plain) return this.drop("unauthenticated", from);
    let payload: SyncPayload;
    try {
      payload = decodeSync(plain, this.held, this.incarnationCeiling());
    } catch (err) {
      if (err instanceof VersionError) return this.wrongVersion(err, from);
      return this.drop("decode", from);
    }
    if (!this.fresh(payload.sentAt)) return this.drop("replay-window", from);
    if (payload.sender === this.selfName && !allowSelf) return this.drop("from-self");
    if (!this.replays.firstSeen(packetId(data, this.keyring.encrypted))) return this.drop("replayed", from);
    const before = payload.entries.length;
    payload.entries = payload.entries.filter((e) => this.validMeta(e.meta));
    if ((payload.invalid ?? 0) + before - payload.entries.length > 0) this.drop("invalid-message", from);
    const ceiling = this.incarnationCeiling();
    const plausible = payload.entries.filter((e) => e.incarnation <= ceiling);
    if (plausible.length < payload.entries.length) this.drop("implausible-incarnation", from);
    payload.entries = plausible;
    this.metrics.message(payload.join ? "join" : "push-pull", "in");
    return payload;
  }

  /** Stops the warning summaries' timer (membership shutdown). */
  stop(): void {
    this.warnings?.stop();
  }

  drop(reason: string, from?: string, detail?: Record<string, unknown>): null {
    this.metrics.dropped(reason);
    // One summary per source IP address: a sender changing ports is still one source.
    if (from !== undefined && WARNED_DROPS.has(reason)) this.warnings?.note(hostOf(from), reason, { from, ...detail });
    return null;
  }

  /** A member of another protocol version (a rolling upgrade across versions): named in the warning. */
  private wrongVersion(err: VersionError, from: string): null {
    return this.drop("protocol-version", from, {
      version: err.version,
      expected: PROTOCOL_VERSION,
      reason: `gossip protocol version ${err.version} from ${from}; this node speaks version ${PROTOCOL_VERSION} only (mixed versions do not form one cluster: upgrade every node)`,
    });
  }

  /** The largest incarnation believable now (see INCARNATION_LEAD_MS). */
  private incarnationCeiling(): number {
    return this.wallClock() + INCARNATION_LEAD_MS;
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

function hostOf(address: string): string {
  try {
    return splitHostPort(address).host;
  } catch {
    return address;
  }
}
