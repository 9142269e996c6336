import type { Keyring } from "../../security/keyring.js";
import type { Transport } from "../../transport/transport.js";
import { systemClock, type Clock, type Timer } from "../../util/clock.js";
import { systemRandom, type Random } from "../../util/random.js";
import { Awareness } from "./awareness.js";
import { BroadcastQueue } from "./broadcast-queue.js";
import { resolveConfig, type MembershipConfig } from "./config.js";
import { MemberTable, type Logger, type Member } from "./member-state.js";
import { copyBytes, MessageType, type AliveMsg, type Message } from "./messages.js";
import { Prober } from "./probe.js";
import { PushPull, type NameConflict } from "./push-pull.js";
import { Wire, type MembershipMetricsSink } from "./wire.js";
import type { LivenessProofs } from "./proofs.js";

export type { Member, Logger } from "./member-state.js";
export type { MembershipMetricsSink } from "./wire.js";
export type { NameConflict } from "./push-pull.js";
export type { LivenessProofs } from "./proofs.js";

export interface MembershipOptions {
  name: string;
  transport: Transport;
  keyring: Keyring;
  meta: Uint8Array;
  clock?: Clock;
  random?: Random;
  config?: Partial<MembershipConfig>;
  logger?: Logger;
  metrics?: MembershipMetricsSink;
  /**
   * Wall-clock ms stamped into sealed packets for the replay window. Defaults to Date.now
   * with the system clock, and to clock.now() with any other (simulated) clock.
   */
  wallClock?: () => number;
  /** Member metadata this node accepts (checked at decode; news with bad metadata is dropped). */
  validMeta?: (meta: Uint8Array) => boolean;
  /** A seed refused our join: `address` holds our name and is alive. */
  onNameConflict?: (conflict: NameConflict) => void;
  /** Signed liveness (node certificates): news a member says of itself is believed only with its proof. */
  proofs?: LivenessProofs;
}

type ChangeListener = (member: Member, previous: Member | null) => void;
type ForgetListener = (member: Member) => void;

const silentLogger: Logger = { info() {}, debug() {}, warn() {} };
const noMetrics: MembershipMetricsSink = { message() {}, dropped() {}, probeRtt() {} };

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/**
 * Cluster membership: SWIM failure detection and gossip with Lifeguard's refinements, as
 * hashicorp/memberlist does it, over an abstract Transport, clock and random.
 */
export class Membership {
  readonly config: MembershipConfig;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly metrics: MembershipMetricsSink;
  private readonly transport: Transport;
  private readonly table: MemberTable;
  private readonly broadcasts: BroadcastQueue;
  private readonly awareness: Awareness;
  private readonly wire: Wire;
  private readonly prober: Prober;
  private readonly pushPull: PushPull;
  private readonly listeners = new Set<ChangeListener>();
  private readonly forgetListeners = new Set<ForgetListener>();
  private readonly timers: Timer[] = [];
  /** Accusers heard during the current packet: answered directly once it is processed. */
  private readonly accusers = new Set<string>();
  /** accuser → the incarnation we last told it about, so each hears a refutation once. */
  private readonly told = new Map<string, number>();
  /** Accusers who told us themselves in the current packet: always answered (see dispatch). */
  private readonly directAccusers = new Set<string>();
  private started = false;
  private shutDown = false;
  /** Address the packet being handled came from (where to fetch a certificate we lack). */
  private packetFrom: string | null = null;

  constructor(opts: MembershipOptions) {
    this.config = resolveConfig(opts.config);
    this.clock = opts.clock ?? systemClock;
    const random = opts.random ?? systemRandom;
    this.log = opts.logger ?? silentLogger;
    this.metrics = opts.metrics ?? noMetrics;
    this.transport = opts.transport;
    const clock = this.clock;
    // systemClock.now() is per-process monotonic, useless across machines: use Date.now with it.
    const wallClock = opts.wallClock ?? (this.clock === systemClock ? () => Date.now() : () => clock.now());
    this.awareness = new Awareness(this.config.awarenessMaxMultiplier);
    this.broadcasts = new BroadcastQueue(this.config.retransmitMult, () => this.table.numAlive());
    this.table = new MemberTable(opts.name, this.clock, this.config, this.awareness, this.broadcasts, this.log, {
      added: (name) => this.prober.insert(name),
      changed: (member, previous) => this.emit(member, previous),
      departed: (member) => this.pushPull.rememberDeparted(member),
      staleAlive: (name, address, departure) => this.tellDead(address, { name, incarnation: departure.incarnation }),
      accused: (accuser) => {
        if (accuser !== opts.name) this.accusers.add(accuser);
      },
      moved: (news, oldAddress) => this.wire.send(oldAddress, [{ ...news, meta: copyBytes(news.meta), ...(news.proof ? { proof: copyBytes(news.proof) } : {}) }]),
      unproven: () => {
        if (this.packetFrom) this.pushPull.syncWithUnknown(this.packetFrom);
      },
      forged: (name, what) => {
        this.metrics.dropped("unproven");
        this.log.debug({ name, what, from: this.packetFrom }, "membership: news without a valid proof of its member dropped");
      },
    }, opts.proofs ?? null);
    this.wire = new Wire(opts.transport, opts.keyring, opts.name, this.broadcasts, this.metrics, wallClock, {
      validMeta: opts.validMeta,
      log: this.log,
      clock: this.clock,
      memberAddresses: () => Array.from(this.table.members.values(), (m) => m.address),
      held: this.table.names,
    });
    this.prober = new Prober(this.table, this.wire, this.config, this.clock, random, this.awareness, this.metrics);
    this.pushPull = new PushPull(this.table, this.wire, opts.transport, this.prober, this.config, this.clock, random, this.log, opts.onNameConflict, opts.proofs ?? null);
    this.table.initSelf(opts.transport.localAddress, opts.meta);
    opts.transport.setPacketHandler((from, data) => this.onPacket(from, data));
    opts.transport.setExchangeHandler((from, data, peerNodeId) => this.pushPull.handleExchange(from, data, peerNodeId));
  }

  /** Begins probing, gossip, push-pull, reconnects and reaping. */
  start(): void {
    if (this.started || this.shutDown) return;
    this.started = true;
    this.prober.start();
    this.pushPull.start();
    this.timers.push(this.clock.setInterval(() => this.gossipRound(), this.config.gossipIntervalMs));
    this.timers.push(this.clock.setInterval(() => this.reap(), Math.min(1_000, this.config.gossipToTheDeadMs)));
  }

  /** Push-pull with each seed address; resolves the number reached. */
  join(seeds: string[]): Promise<number> {
    return this.pushPull.join(seeds);
  }

  /** Keeps retrying join with backoff in the background until a seed answers or shutdown. */
  joinWithRetry(seeds: string[]): void {
    this.pushPull.joinWithRetry(seeds);
  }

  /** New metadata for this member: incarnation bump + alive broadcast. */
  updateMeta(meta: Uint8Array): void {
    this.table.updateSelfMeta(meta);
  }

  /** Announces a graceful leave; resolves once it has been gossiped a few times or after timeoutMs. */
  leave(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      let timer: Timer | null = null;
      let settled = false;
      const done = (): void => {
        if (settled) return;
        settled = true;
        timer?.cancel();
        resolve();
      };
      const others = this.table.numAlive() - 1;
      this.table.leave(done);
      if (others <= 0 || this.shutDown) return done();
      timer = this.clock.setTimeout(done, timeoutMs);
    });
  }

  /** Stops every timer and closes the transport. */
  async shutdown(): Promise<void> {
    if (this.shutDown) return;
    this.shutDown = true;
    for (const t of this.timers) t.cancel();
    this.timers.length = 0;
    this.prober.stop();
    this.pushPull.stoppedForGood = true;
    this.pushPull.stop();
    this.table.cancelAll();
    this.broadcasts.reset();
    this.wire.stop();
    await this.transport.close();
  }

  /** Every known member, including us and dead/left ones until reaped. */
  members(): Member[] {
    return [...this.table.members.values()].map((m) => ({ ...m }));
  }

  /** One member by name (a copy), as members() would list it. */
  member(name: string): Member | undefined {
    const m = this.table.members.get(name);
    return m ? { ...m } : undefined;
  }

  localMember(): Member {
    return { ...this.table.self };
  }

  /** Local health (Lifeguard): 0 is healthy. */
  healthScore(): number {
    return this.awareness.getHealthScore();
  }

  /** Fires on join, state change and meta/address change; returns an unsubscribe function. */
  onChange(listener: ChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Fires when a departed member is reaped (forgotten): it no longer appears in members().
   * Every view built from members() must drop it then, or it lingers there until the next
   * unrelated change. Returns an unsubscribe function.
   */
  onForget(listener: ForgetListener): () => void {
    this.forgetListeners.add(listener);
    return () => this.forgetListeners.delete(listener);
  }

  private emit(member: Member, previous: Member | null): void {
    const relevant =
      !previous || previous.state !== member.state || previous.address !== member.address || !sameBytes(previous.meta, member.meta);
    if (!relevant) return;
    for (const listener of this.listeners) {
      try {
        listener(member, previous);
      } catch (err) {
        this.log.warn({ err: err instanceof Error ? err.message : String(err) }, "membership: change listener threw");
      }
    }
  }

  /** Never throws: a bad packet is dropped and counted. */
  private onPacket(from: string, data: Uint8Array): void {
    if (this.shutDown) return;
    try {
      const packet = this.wire.receive(data, from);
      if (!packet) return;
      this.packetFrom = from;
      const known = this.table.members.get(packet.sender);
      if (!known) this.pushPull.syncWithUnknown(from);
      else if (known.state === "dead" || known.state === "left") this.tellDead(from, known);
      for (const msg of packet.messages) this.dispatch(from, packet.sender, msg);
      if (this.accusers.size > 0) this.answerAccusers();
      this.directAccusers.clear();
      this.packetFrom = null;
    } catch (err) {
      this.metrics.dropped("handler-error");
      this.log.warn({ from, err: err instanceof Error ? err.message : String(err) }, "membership: packet handler failed");
    }
  }

  private dispatch(from: string, sender: string, msg: Message): void {
    switch (msg.type) {
      case MessageType.Ping:
        return this.prober.handlePing(from, msg);
      case MessageType.PingReq:
        return this.prober.handlePingReq(from, msg);
      case MessageType.Ack:
        return this.prober.handleAck(sender, msg.seq, false);
      case MessageType.Nack:
        return this.prober.handleAck(sender, msg.seq, true);
      case MessageType.Alive:
        if (this.forgesUs(msg)) this.accusers.add(sender); // it holds a forgery of us: answer it directly
        return this.table.aliveNode(msg);
      case MessageType.Suspect:
        this.noteDirect(sender, msg);
        return this.table.suspectNode(msg);
      case MessageType.Dead:
        this.noteDirect(sender, msg);
        return this.table.deadNode(msg);
    }
  }

  /**
   * A member we hold dead or left is talking to us: our view is stale (we missed its
   * refutation — a death only we believe — or it restarted). Telling it so, directly, makes
   * it answer with its alive at once (a direct notice, always answered) instead of waiting
   * for the next reconnect round; two small packets, where a push-pull would carry the full state.
   */
  private tellDead(address: string, member: { name: string; incarnation: number }): void {
    this.wire.send(address, [{ type: MessageType.Dead, name: member.name, incarnation: member.incarnation, from: this.table.selfName }]);
  }

  /**
   * A suspicion about us sent by the accuser itself (a buddy ping or a reminder) means its
   * timer is still running: it did not get our refutation, so it gets it again each time.
   * Copies relayed by gossip are answered once per incarnation (they are many).
   */
  private noteDirect(sender: string, msg: { name: string; from: string }): void {
    if (msg.name === this.table.selfName && msg.from === sender) this.directAccusers.add(sender);
  }

  /**
   * Lifeguard-style fast refutation: besides gossiping our higher incarnation, send it
   * straight to whoever accused us — it holds the suspicion timer that matters.
   */
  private answerAccusers(): void {
    const self = this.table.self;
    for (const name of this.accusers) {
      const accuser = this.table.members.get(name);
      if (!accuser || (this.told.get(name) === self.incarnation && !this.directAccusers.has(name))) continue;
      if (this.told.size > 4096) this.told.clear();
      this.told.set(name, self.incarnation);
      this.wire.send(accuser.address, [
        { type: MessageType.Alive, name: self.name, address: self.address, incarnation: self.incarnation, meta: self.meta, ...(self.proof ? { proof: self.proof } : {}) },
      ]);
    }
    this.accusers.clear();
  }

  /** News of us, at our incarnation or above, with an address or metadata that are not ours. */
  private forgesUs(msg: AliveMsg): boolean {
    if (msg.name !== this.table.selfName) return false; // most news is about others: no lookup of self
    const self = this.table.self;
    if (this.table.leaving || msg.incarnation < self.incarnation) return false;
    return msg.address !== self.address || !sameBytes(msg.meta, self.meta);
  }

  /** Dedicated gossip: queued news to a few random members, dead ones included for a while. */
  private gossipRound(): void {
    if (this.broadcasts.length === 0) return;
    const now = this.clock.now();
    const targets = this.prober.randomMembers(this.config.gossipNodes, (m) => {
      if (m.state === "alive" || m.state === "suspect") return true;
      return now - m.stateChangedAt < this.config.gossipToTheDeadMs;
    });
    for (const target of targets) {
      if (!this.wire.gossip(target.address)) break;
    }
  }

  /**
   * Forgets dead/left members once gossipToTheDead has passed, leaving a tombstone for as
   * long as they are re-contacted (reconnect keeps its own list).
   */
  private reap(): void {
    const now = this.clock.now();
    const forgotten: Member[] = [];
    for (const m of this.table.departedMembers()) {
      if (m.name !== this.table.selfName && now - m.stateChangedAt > this.config.gossipToTheDeadMs) {
        forgotten.push({ ...m });
      }
    }
    for (const m of forgotten) {
      this.table.remove(m.name, m.state === "left" ? this.config.leftReconnectTimeoutMs : this.config.reconnectTimeoutMs);
      this.log.debug({ peer: m.name, state: m.state }, "membership: forgot a departed member");
      for (const listener of this.forgetListeners) {
        try {
          listener(m);
        } catch (err) {
          this.log.warn({ err: err instanceof Error ? err.message : String(err) }, "membership: forget listener threw");
        }
      }
    }
    this.table.expireTombstones();
  }
}
