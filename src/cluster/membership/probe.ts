import type { Clock, Timer } from "../../util/clock.js";
import { randomInt, shuffle, type Random } from "../../util/random.js";
import type { Awareness } from "./awareness.js";
import type { MembershipConfig } from "./config.js";
import { ProbeOrder } from "./probe-order.js";
import type { Member, MemberTable } from "./member-state.js";
import { MessageType, type Message, type PingMsg, type PingReqMsg } from "./messages.js";
import type { MembershipMetricsSink, Wire } from "./wire.js";

/**
 * SWIM failure detection: one member per (awareness-scaled) period, round-robin over a
 * shuffled order; direct ping, then ping-req through k random members who answer nack when
 * their own ping goes unanswered; no ack by the end of the period → suspect.
 */
interface AckWait {
  /** Names whose ack for this sequence number we accept. */
  expectFrom: Set<string>;
  onAck: () => void;
  onNack: () => void;
}

export class Prober {
  private order = new ProbeOrder();
  private index = 0;
  private seq = 0;
  private readonly waits = new Map<number, AckWait>();
  private readonly timers = new Set<Timer>();
  private tickTimer: Timer | null = null;
  private stopped = true;

  constructor(
    private readonly table: MemberTable,
    private readonly wire: Wire,
    private readonly config: MembershipConfig,
    private readonly clock: Clock,
    private readonly random: Random,
    private readonly awareness: Awareness,
    private readonly metrics: MembershipMetricsSink,
  ) {}

  start(): void {
    this.stopped = false;
    this.schedule(this.random.next() * this.config.probeIntervalMs);
  }

  stop(): void {
    this.stopped = true;
    this.tickTimer?.cancel();
    for (const t of this.timers) t.cancel();
    this.timers.clear();
    this.waits.clear();
  }

  /** New members go to a random place in the order so they are probed soon, but not all at once. */
  insert(name: string): void {
    const at = randomInt(this.random, this.order.length + 1);
    this.order.insert(at, name);
    if (at < this.index) this.index++;
  }

  /** Up to k random members (not us, not `exclude`) accepted by `eligible`. */
  randomMembers(k: number, eligible: (m: Member) => boolean, exclude?: string): Member[] {
    const out: Member[] = [];
    const seen = new Set<string>();
    const n = this.order.length;
    for (let tries = 0; tries < 3 * n && out.length < k; tries++) {
      const name = this.order.at(randomInt(this.random, n))!;
      if (name === this.table.selfName || name === exclude || seen.has(name)) continue;
      seen.add(name);
      const m = this.table.members.get(name);
      if (m && eligible(m)) out.push(m);
    }
    return out;
  }

  handlePing(fromAddress: string, msg: PingMsg): void {
    // A ping meant for a previous owner of our address (or a confused peer): not ours to ack.
    if (msg.target !== this.table.selfName) return void this.wire.drop("ping-wrong-target");
    this.wire.send(fromAddress, [{ type: MessageType.Ack, seq: msg.seq }]);
  }

  handlePingReq(fromAddress: string, msg: PingReqMsg): void {
    const seq = this.nextSeq();
    let answered = false;
    const timer = this.after(this.config.probeTimeoutMs, () => {
      this.waits.delete(seq);
      if (!answered) this.wire.send(fromAddress, [{ type: MessageType.Nack, seq: msg.seq }]);
    });
    this.waits.set(seq, {
      expectFrom: new Set([msg.target]),
      onAck: () => {
        answered = true;
        this.cancel(timer);
        this.waits.delete(seq);
        this.wire.send(fromAddress, [{ type: MessageType.Ack, seq: msg.seq }]);
      },
      onNack: () => {},
    });
    this.wire.send(msg.targetAddress, [{ type: MessageType.Ping, seq, target: msg.target }]);
  }

  handleAck(sender: string, seq: number, nack: boolean): void {
    const wait = this.waits.get(seq);
    if (!wait) return; // late or duplicate: harmless
    if (!wait.expectFrom.has(sender)) return void this.wire.drop("ack-unexpected-sender");
    if (nack) wait.onNack();
    else wait.onAck();
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.tickTimer = this.clock.setTimeout(() => this.tick(), delayMs);
  }

  private tick(): void {
    const periodMs = this.awareness.scaleTimeout(this.config.probeIntervalMs);
    this.schedule(periodMs);
    const target = this.nextTarget();
    if (target) this.probe(target, periodMs);
    this.remindSuspects(periodMs, target?.name);
  }

  /**
   * Buddy system beyond the round-robin: a suspect is probed by us only once per ~N periods,
   * longer than the suspicion window, so while we hold a suspicion we tell the suspect
   * directly once per period (after the first). It answers each such notice with its alive,
   * straight to us, so a refutation we missed as gossip cannot let our timer kill it.
   */
  private remindSuspects(periodMs: number, probed: string | undefined): void {
    const self = this.table.selfName;
    for (const m of this.table.dueForNotice(periodMs)) {
      if (m.name === probed) continue; // that ping already carries the suspicion
      this.wire.send(m.address, [{ type: MessageType.Suspect, name: m.name, incarnation: m.incarnation, from: self }]);
    }
  }

  private nextTarget(): Member | null {
    for (let checked = 0; checked <= this.order.length; checked++) {
      if (this.index >= this.order.length) {
        this.order = new ProbeOrder(shuffle(this.random, this.order.toArray().filter((n) => this.table.members.has(n))));
        this.index = 0;
        if (this.order.length === 0) return null;
      }
      const m = this.table.members.get(this.order.at(this.index++)!);
      if (m && m.name !== this.table.selfName && (m.state === "alive" || m.state === "suspect")) return m;
    }
    return null;
  }

  private probe(target: Member, periodMs: number): void {
    const seq = this.nextSeq();
    const sentAt = this.clock.now();
    const incarnation = target.incarnation;
    const messages: Message[] = [{ type: MessageType.Ping, seq, target: target.name }];
    // Buddy system: tell a suspect it is suspected so it can refute at once.
    if (target.state === "suspect") {
      messages.push({ type: MessageType.Suspect, name: target.name, incarnation, from: this.table.selfName });
    }
    let done = false;
    let direct = true;
    let expectedNacks = 0;
    let nacks = 0;
    const finish = (): void => {
      done = true;
      this.waits.delete(seq);
      this.cancel(indirectTimer);
      this.cancel(deadline);
    };
    this.waits.set(seq, {
      expectFrom: new Set([target.name]),
      onAck: () => {
        if (done) return;
        finish();
        this.metrics.probeRtt(this.clock.now() - sentAt);
        if (direct) this.awareness.applyDelta(-1);
      },
      onNack: () => {
        nacks++;
      },
    });
    const indirectTimer = this.after(this.config.probeTimeoutMs, () => {
      if (done) return;
      direct = false;
      const relays = this.randomMembers(this.config.indirectChecks, (m) => m.state === "alive", target.name);
      expectedNacks = relays.length;
      const wait = this.waits.get(seq);
      for (const relay of relays) {
        wait?.expectFrom.add(relay.name);
        this.wire.send(relay.address, [{ type: MessageType.PingReq, seq, target: target.name, targetAddress: target.address }]);
      }
    });
    const deadline = this.after(periodMs, () => {
      if (done) return;
      finish();
      // Lifeguard: missing nacks mean *we* may be the slow one.
      this.awareness.applyDelta(expectedNacks > 0 ? Math.max(0, expectedNacks - nacks) : 1);
      const current = this.table.members.get(target.name);
      if (!current || current.incarnation !== incarnation) return;
      const suspicion = { type: MessageType.Suspect, name: target.name, incarnation, from: this.table.selfName } as const;
      this.table.suspectNode(suspicion);
      // Tell the target at once, so that a live one refutes well before the timeout.
      this.wire.send(target.address, [suspicion]);
    });
    this.wire.send(target.address, messages);
  }

  /** Pings `member` directly (again halfway through): resolves true on its ack within timeoutMs. */
  confirmAlive(member: Member, timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      const seq = this.nextSeq();
      const ping = () => this.wire.send(member.address, [{ type: MessageType.Ping, seq, target: member.name }]);
      const again = this.after(timeoutMs / 2, ping);
      const timer = this.after(timeoutMs, () => {
        this.waits.delete(seq);
        resolve(false);
      });
      this.waits.set(seq, {
        expectFrom: new Set([member.name]),
        onAck: () => {
          this.cancel(timer);
          this.cancel(again);
          this.waits.delete(seq);
          resolve(true);
        },
        onNack: () => {},
      });
      ping();
    });
  }

  private nextSeq(): number {
    this.seq = (this.seq + 1) >>> 0;
    return this.seq;
  }

  private after(ms: number, fn: () => void): Timer {
    const timer = this.clock.setTimeout(() => {
      this.timers.delete(timer);
      fn();
    }, ms);
    this.timers.add(timer);
    return timer;
  }

  private cancel(timer: Timer): void {
    timer.cancel();
    this.timers.delete(timer);
  }
}
