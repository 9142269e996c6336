import type { Clock } from "../../util/clock.js";
import type { Awareness } from "./awareness.js";
import type { BroadcastQueue } from "./broadcast-queue.js";
import { suspicionTimeout, type MembershipConfig } from "./config.js";
import { copyBytes, encodeMessage, MessageType, type AliveMsg, type DeadMsg, type SuspectMsg } from "./messages.js";
import { Suspicion } from "./suspicion.js";
import { aliveStatement, leaveStatement, type LivenessProofs } from "./proofs.js";
import { NameIndex } from "./known-news.js";

/**
 * The SWIM state machine over incarnation numbers (memberlist's aliveNode / suspectNode /
 * deadNode): which news about a member is newer, refutation of news about ourselves,
 * suspicion timers, and the broadcast of every accepted change.
 */
export type MemberStatus = "alive" | "suspect" | "dead" | "left";

export interface Member {
  name: string;
  address: string;
  meta: Uint8Array;
  state: MemberStatus;
  incarnation: number;
  stateChangedAt: number;
  /** With liveness proofs: the member's signature of its latest alive (or leave), handed on with its state. */
  proof?: Uint8Array;
}

export interface Logger {
  info(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface TableHooks {
  /** A member was added (insert it in the probe order). */
  added(name: string): void;
  /** Every accepted change (copies). */
  changed(member: Member, previous: Member | null): void;
  /** A member (not us) was just declared dead or left: remember it for reconnects. */
  departed(member: Member): void;
  /**
   * News that a member we reaped is alive, at an incarnation its departure already beat: a
   * stale copy, or the member restarted and does not know it left. Tell `address` (at most
   * once a second per member) so that a restarted member refutes with a higher incarnation.
   */
  staleAlive(name: string, address: string, departure: Tombstone): void;
  /** `accuser` suspects or declared us dead below our incarnation: tell it directly. */
  accused(accuser: string): void;
  /** A live member moved to another address: tell the old one, so a live owner refutes a forgery at once. */
  moved?(news: AliveMsg, oldAddress: string): void;
  /** News about `name` signed by a certificate not seen yet: fetch it (push-pull with the sender). */
  unproven?(name: string): void;
  /** News about `name` whose proof is missing or wrong: dropped. */
  forged?(name: string, what: "alive" | "leave"): void;
}

/** What is left of a reaped member: its departure, so stale news cannot bring it back. */
export interface Tombstone {
  incarnation: number;
  state: "dead" | "left";
  /** Forgotten after this time. */
  until: number;
  toldAt: number;
}

/** Bound on remembered departures (oldest forgotten first). */
const MAX_TOMBSTONES = 4096;
const STALE_NOTICE_GAP_MS = 1_000;

function isLive(m: Member): boolean {
  return m.state === "alive" || m.state === "suspect";
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export class MemberTable {
  readonly members = new Map<string, Member>();
  private readonly suspicions = new Map<string, Suspicion>();
  /** Suspect name → when we next tell it directly that we suspect it (see dueForNotice). */
  private readonly noticeAt = new Map<string, number>();
  private readonly tombstones = new Map<string, Tombstone>();
  /** Set by leave(): news about ourselves is no longer refuted. */
  leaving = false;
  /** Members alive or suspect, kept up to date on every change (read on every packet). */
  private aliveCount = 0;
  /** Dead and left members (reaping looks at these only, not at every member each second). */
  private readonly departedNames = new Set<string>();
  /** Members other than us by the bytes of their name: news the table holds is not decoded (known-news.ts). */
  readonly names = new NameIndex<Member>();

  constructor(
    readonly selfName: string,
    private readonly clock: Clock,
    private readonly config: MembershipConfig,
    private readonly awareness: Awareness,
    private readonly broadcasts: BroadcastQueue,
    private readonly log: Logger,
    private readonly hooks: TableHooks,
    /** Liveness proofs (clusters with node certificates); null: news is believed unsigned. */
    private readonly proofs: LivenessProofs | null = null,
  ) {}

  get self(): Member {
    return this.members.get(this.selfName)!;
  }

  /** Members not known to be dead or left: the N of every formula. */
  numAlive(): number {
    return this.aliveCount;
  }

  /** Creates the local member (incarnation 0) and announces it. */
  initSelf(address: string, meta: Uint8Array): void {
    const self: Member = { name: this.selfName, address, meta, state: "alive", incarnation: 0, stateChangedAt: this.clock.now() };
    this.members.set(self.name, self);
    this.aliveCount++;
    this.hooks.added(self.name);
    this.broadcastAlive(self);
  }

  /** New metadata for ourselves: a higher incarnation makes it win everywhere. */
  updateSelfMeta(meta: Uint8Array): void {
    const previous = { ...this.self };
    this.self.meta = meta;
    this.self.incarnation++;
    this.broadcastAlive(this.self);
    this.changed(this.self, previous);
  }

  aliveNode(a: AliveMsg): void {
    const isSelf = a.name === this.selfName;
    if (isSelf && this.leaving) return;
    let member = this.members.get(a.name);
    const isNew = !member;
    let updatesAddress = false;
    if (member && member.address !== a.address) {
      // Same name, other address: a restart elsewhere, or a conflict to reject.
      const oldGone = member.state === "dead" || member.state === "left";
      if (!isSelf && !oldGone && a.incarnation <= member.incarnation) {
        this.log.warn({ name: a.name, known: member.address, claimed: a.address }, "membership: name conflict, keeping the known address");
        return;
      }
      updatesAddress = !isSelf;
    }
    if (member && !isSelf && !updatesAddress && a.incarnation <= member.incarnation) return;
    if (!member && this.isStale(a)) return;
    // (The statement is built only with proofs: without, every alive is believed.)
    if (this.proofs && !this.proven(a.name, "alive", aliveStatement(a.name, a.address, a.incarnation, a.meta), a.proof)) return;
    if (member && isSelf) {
      if (a.incarnation < member.incarnation) return;
      if (a.incarnation === member.incarnation && a.address === member.address && sameBytes(a.meta, member.meta)) return;
      // Someone announces us with other data (a previous process of ours): out-bid it.
      this.refute(a.incarnation);
      return;
    }
    this.cancelSuspicion(a.name);
    this.tombstones.delete(a.name);
    const movedFrom = updatesAddress && member && isLive(member) ? member.address : null;
    const previous = member ? { ...member } : null;
    if (!member) {
      member = { name: a.name, address: a.address, meta: copyBytes(a.meta), state: "alive", incarnation: a.incarnation, stateChangedAt: this.clock.now() };
      this.members.set(a.name, member);
      this.names.add(member);
    }
    member.address = a.address;
    member.meta = copyBytes(a.meta); // decoded meta is a view into the packet
    member.incarnation = a.incarnation;
    if (a.proof) member.proof = copyBytes(a.proof);
    else delete member.proof;
    if (member.state !== "alive" || isNew) {
      member.state = "alive";
      member.stateChangedAt = this.clock.now();
    }
    this.broadcasts.queue(a.name, encodeMessage(a));
    if (isNew) this.hooks.added(a.name);
    this.changed(member, previous);
    if (movedFrom) this.hooks.moved?.(a, movedFrom);
  }

  suspectNode(s: SuspectMsg): void {
    const member = this.members.get(s.name);
    if (member && s.name === this.selfName && !this.leaving) this.hooks.accused(s.from);
    if (!member || s.incarnation < member.incarnation) return;
    const timer = this.suspicions.get(s.name);
    if (timer) {
      // Another accuser of the same suspicion: a confirmation, worth re-gossiping.
      if (s.incarnation === member.incarnation && timer.confirm(s.from)) this.broadcasts.queue(s.name, encodeMessage(s));
      return;
    }
    if (member.state !== "alive") return;
    if (s.name === this.selfName) {
      if (!this.leaving) this.refute(s.incarnation);
      return;
    }
    const previous = { ...member };
    member.incarnation = s.incarnation;
    member.state = "suspect";
    member.stateChangedAt = this.clock.now();
    this.broadcasts.queue(s.name, encodeMessage(s));
    this.startSuspicion(member, s.from);
    this.changed(member, previous);
  }

  deadNode(d: DeadMsg): void {
    const member = this.members.get(d.name);
    if (member && d.name === this.selfName && !this.leaving && d.from !== d.name) this.hooks.accused(d.from);
    if (!member || d.incarnation < member.incarnation) return;
    if (this.proofs && d.from !== d.name && d.from !== this.selfName && d.name !== this.selfName) {
      // With proofs, the cluster key alone proves nothing about who accuses: another member's
      // death notice only starts (or confirms) our own suspicion, which the accused refutes
      // with a signed alive before our timer declares it dead.
      if (member.state === "alive" || member.state === "suspect") this.suspectNode({ type: MessageType.Suspect, name: d.name, incarnation: d.incarnation, from: d.from });
      return;
    }
    this.cancelSuspicion(d.name);
    if (member.state === "dead" || member.state === "left") return;
    if (d.name === this.selfName && !this.leaving) {
      this.refute(d.incarnation);
      return;
    }
    // A leave is the member's own word: believed only with its proof. A death declared by
    // another member is an accusation (a suspicion that ran out), as in SWIM.
    if (d.from === d.name && this.proofs && !this.proven(d.name, "leave", leaveStatement(d.name, d.incarnation), d.proof)) return;
    this.applyDead(member, d);
  }

  /** Whether news `name` says of itself carries its valid proof (always true without proofs). */
  private proven(name: string, what: "alive" | "leave", statement: Uint8Array, proof: Uint8Array | undefined): boolean {
    if (!this.proofs) return true;
    const verdict = proof ? this.proofs.verify(name, statement, proof) : false;
    if (verdict === true) return true;
    if (verdict === "unknown") this.hooks.unproven?.(name);
    else this.hooks.forged?.(name, what);
    return false;
  }

  /** Our own graceful leave: "dead about self from self"; resolves once gossiped a few times. */
  leave(onGossiped: () => void): void {
    this.leaving = true;
    const self = this.self;
    const msg: DeadMsg = { type: MessageType.Dead, name: self.name, incarnation: self.incarnation, from: self.name };
    if (this.proofs) msg.proof = this.proofs.sign(leaveStatement(self.name, self.incarnation));
    this.applyDead(self, msg, {
      onSent: (n) => {
        if (n >= 3) onGossiped();
      },
      onDone: onGossiped,
    });
  }

  /**
   * Drops a member entirely (reaped after gossipToTheDead). A departed one leaves a tombstone
   * for `keepMs`, so that every member reaps it for good: an old "alive" still travelling in
   * gossip or held by a member that missed the departure cannot bring it back here, while
   * the member itself, restarted, is told to out-bid its departure (see staleAlive).
   */
  remove(name: string, keepMs = 0): void {
    const member = this.members.get(name);
    if (member && isLive(member)) this.aliveCount--;
    this.cancelSuspicion(name);
    this.members.delete(name);
    if (member) this.names.remove(member);
    this.departedNames.delete(name);
    if (member && keepMs > 0 && (member.state === "dead" || member.state === "left")) {
      if (this.tombstones.size >= MAX_TOMBSTONES) this.tombstones.delete(this.tombstones.keys().next().value!);
      this.tombstones.set(name, { incarnation: member.incarnation, state: member.state, until: this.clock.now() + keepMs, toldAt: -Infinity });
    }
  }

  /** Dead and left members, in the order of `members` (as iterating it would give them). */
  departedMembers(): Member[] {
    if (this.departedNames.size === 0) return [];
    if (this.departedNames.size === 1) {
      const m = this.members.get(this.departedNames.values().next().value!);
      return m ? [m] : [];
    }
    const out: Member[] = [];
    for (const m of this.members.values()) if (!isLive(m)) out.push(m);
    return out;
  }

  /** Forgets tombstones older than their keep time. */
  expireTombstones(): void {
    const now = this.clock.now();
    for (const [name, t] of this.tombstones) if (t.until <= now) this.tombstones.delete(name);
  }

  private isStale(a: AliveMsg): boolean {
    const t = this.tombstones.get(a.name);
    const now = this.clock.now();
    if (!t || a.incarnation > t.incarnation || t.until <= now) return false;
    if (now - t.toldAt >= STALE_NOTICE_GAP_MS) {
      t.toldAt = now;
      this.hooks.staleAlive(a.name, a.address, { ...t });
    }
    return true;
  }

  cancelAll(): void {
    for (const s of this.suspicions.values()) s.cancel();
    this.suspicions.clear();
    this.noticeAt.clear();
  }

  isSuspected(name: string): boolean {
    return this.suspicions.has(name);
  }

  /**
   * Suspects we have held for at least gapMs since we began suspecting them or last told
   * them, now rescheduled gapMs later. Refutations normally reach us by gossip within a few
   * hundred ms; one still missing after a probe period was lost on the way to us (it is
   * retransmit-limited), and our own timer is the one that will fire. Telling the suspect
   * directly until then gives it a fresh chance to answer us, whoever the first accuser was.
   */
  dueForNotice(gapMs: number): Member[] {
    const now = this.clock.now();
    const due: Member[] = [];
    for (const [name, at] of this.noticeAt) {
      const member = this.members.get(name);
      if (at > now || !member || member.state !== "suspect") continue;
      this.noticeAt.set(name, now + gapMs);
      due.push(member);
    }
    return due;
  }

  private applyDead(member: Member, d: DeadMsg, options?: { onSent?: (n: number) => void; onDone?: () => void }): void {
    const previous = { ...member };
    member.incarnation = d.incarnation;
    member.state = d.from === d.name ? "left" : "dead";
    member.stateChangedAt = this.clock.now();
    if (d.from === d.name && d.proof) member.proof = copyBytes(d.proof);
    else delete member.proof;
    this.broadcasts.queue(d.name, encodeMessage(d), options);
    this.changed(member, previous);
    if (member.name !== this.selfName) this.hooks.departed({ ...member });
  }

  private changed(member: Member, previous: Member | null): void {
    this.aliveCount += (isLive(member) ? 1 : 0) - (previous && isLive(previous) ? 1 : 0);
    if (isLive(member)) this.departedNames.delete(member.name);
    else this.departedNames.add(member.name);
    this.hooks.changed({ ...member }, previous);
  }

  private startSuspicion(member: Member, from: string): void {
    const n = this.numAlive();
    let k = this.config.suspicionMult - 2;
    if (n - 2 < k) k = 0;
    const min = suspicionTimeout(this.config.suspicionMult, n, this.config.probeIntervalMs);
    const max = this.config.suspicionMaxTimeoutMult * min;
    const incarnation = member.incarnation;
    const name = member.name;
    const suspicion = new Suspicion(this.clock, from, k, min, max, (confirmations) => {
      this.suspicions.delete(name);
      this.noticeAt.delete(name);
      const current = this.members.get(name);
      if (!current || current.state !== "suspect" || current.incarnation !== incarnation) return;
      this.log.info({ name, confirmations }, "membership: suspect timed out, marking dead");
      this.deadNode({ type: MessageType.Dead, name, incarnation, from: this.selfName });
    });
    this.suspicions.set(name, suspicion);
    this.noticeAt.set(name, this.clock.now() + this.config.probeIntervalMs);
  }

  private cancelSuspicion(name: string): void {
    this.noticeAt.delete(name);
    const s = this.suspicions.get(name);
    if (!s) return;
    s.cancel();
    this.suspicions.delete(name);
  }

  /** inc = max(own + 1, accused + 1), broadcast alive, and count it against our health. */
  private refute(accused: number): void {
    const self = this.self;
    const previous = { ...self };
    self.incarnation = Math.max(self.incarnation + 1, accused + 1);
    this.awareness.applyDelta(1);
    this.broadcastAlive(self);
    this.log.debug({ incarnation: self.incarnation }, "membership: refuting a suspicion about ourselves");
    this.changed(self, previous);
  }

  private broadcastAlive(m: Member): void {
    const msg: AliveMsg = { type: MessageType.Alive, name: m.name, address: m.address, incarnation: m.incarnation, meta: m.meta };
    if (this.proofs) m.proof = msg.proof = this.proofs.sign(aliveStatement(m.name, m.address, m.incarnation, m.meta));
    this.broadcasts.queue(m.name, encodeMessage(msg));
  }
}
