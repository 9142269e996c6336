import type { Clock, Timer } from "../../util/clock.js";
import type { Transport } from "../../transport/transport.js";
import type { Random } from "../../util/random.js";
import { pushPullScale, retransmitLimit, type MembershipConfig } from "./config.js";
import type { Logger, Member, MemberTable } from "./member-state.js";
import { MessageType, type StateEntry, type SyncPayload } from "./messages.js";
import type { Prober } from "./probe.js";
import type { Wire } from "./wire.js";
import type { LivenessProofs } from "./proofs.js";

/**
 * Anti-entropy: full-state push-pull over transport.exchange — the join, a periodic sync
 * with one random member (stretched for N > 32), and reconnects to dead members so that
 * partitions heal and restarted members come back.
 */
export const SYNC_TIMEOUT_MS = 3_000;
const UNKNOWN_SYNC_GAP_MS = 5_000;

/** Our join was refused: `holder` is alive at `address` under our name (seen by `seed`). */
export interface NameConflict {
  name: string;
  address: string;
  seed: string;
}

interface Departed {
  address: string;
  since: number;
  /** Re-contacted until since + this. */
  forMs: number;
}

export class PushPull {
  private readonly departed = new Map<string, Departed>();
  private readonly timers = new Set<Timer>();
  private stopped = true;
  private lastUnknownSync = -Infinity;
  /** Set by shutdown: no more retries or syncs. */
  stoppedForGood = false;

  constructor(
    private readonly table: MemberTable,
    private readonly wire: Wire,
    private readonly transport: Transport,
    private readonly prober: Prober,
    private readonly config: MembershipConfig,
    private readonly clock: Clock,
    private readonly random: Random,
    private readonly log: Logger,
    private readonly onNameConflict?: (conflict: NameConflict) => void,
    private readonly proofs: LivenessProofs | null = null,
  ) {}

  start(): void {
    this.stopped = false;
    this.schedulePeriodic();
    this.scheduleReconnect();
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers) t.cancel();
    this.timers.clear();
  }

  /**
   * A member declared dead, or that left: re-contact it every reconnectInterval for a while
   * (reconnectTimeout, leftReconnectTimeout), so partitions heal and restarted members —
   * including a coordinator that left and came back with no seeds — rejoin.
   */
  rememberDeparted(member: Member): void {
    const forMs = member.state === "left" ? this.config.leftReconnectTimeoutMs : this.config.reconnectTimeoutMs;
    this.departed.set(member.name, { address: member.address, since: this.clock.now(), forMs });
  }

  /**
   * An authenticated packet from a member we do not know: gossip is still spreading news
   * (churn) or missed it (epidemics leave a small fraction uninformed). A push-pull with
   * that member now — rate-limited to one per UNKNOWN_SYNC_GAP_MS — is anti-entropy
   * exactly when it is needed, instead of waiting minutes for the periodic one.
   */
  syncWithUnknown(address: string): void {
    const now = this.clock.now();
    if (this.stopped || now - this.lastUnknownSync < UNKNOWN_SYNC_GAP_MS) return;
    this.lastUnknownSync = now;
    void this.pushPullWith(address, false);
  }

  /**
   * Push-pull with each seed in parallel; resolves how many answered. A join that reached a
   * seed is followed by one more push-pull (see scheduleJoinFollowUp).
   */
  async join(seeds: string[]): Promise<number> {
    const targets = seeds.filter((s) => s !== this.transport.localAddress);
    const results = await Promise.all(targets.map((s) => this.pushPullWith(s, true)));
    const reached = results.filter(Boolean).length;
    if (reached > 0) this.scheduleJoinFollowUp();
    return reached;
  }

  /**
   * A seed's state lacks the members whose news was still spreading when we joined, and that
   * news is gossiped only by members who already know us: once it has been sent its
   * retransmit limit, nobody sends it again, and we would wait for a periodic push-pull
   * (minutes at N = 1,000). So once that news has run its course (retransmit limit × gossip
   * interval), we push-pull with one random member: it knows what the seed did not.
   */
  private scheduleJoinFollowUp(): void {
    const delay = retransmitLimit(this.config.retransmitMult, this.table.numAlive()) * this.config.gossipIntervalMs;
    this.once(delay, () => {
      if (this.stoppedForGood) return;
      const [peer] = this.prober.randomMembers(1, (m) => m.state === "alive");
      if (peer) void this.pushPullWith(peer.address, false);
    });
  }

  /** Retries join with exponential backoff until a seed answers (or stop()). */
  joinWithRetry(seeds: string[]): void {
    let delay = this.config.joinRetry.initialMs;
    const attempt = (): void => {
      if (this.stoppedForGood) return;
      void this.join(seeds).then((reached) => {
        if (reached > 0 || this.stoppedForGood) return;
        this.log.debug({ seeds, retryInMs: delay }, "membership: no seed answered, retrying");
        this.once(delay, attempt);
        delay = Math.min(delay * 2, this.config.joinRetry.maxMs);
      });
    };
    attempt();
  }

  /** `peerNodeId`: with mutual TLS, the node the stream's certificate proved: it must be the sender. */
  async handleExchange(from: string, data: Uint8Array, peerNodeId?: string): Promise<Uint8Array> {
    const payload = this.wire.openSync(data, from, true);
    if (!payload) throw new Error("sync refused");
    if (peerNodeId !== undefined && payload.sender !== peerNodeId) {
      this.log.warn({ claimed: payload.sender, certificate: peerNodeId, from }, "membership: sync refused, the sender's certificate is for another node");
      throw new Error("sync refused");
    }
    const candidate = this.nameHolder(payload);
    const holder = candidate && (await this.stillAlive(candidate));
    if (holder) {
      this.log.warn({ name: payload.sender, holder: holder.address, from }, "membership: join refused, the name belongs to a live member");
      return this.wire.sealSync(payload.join, [holder], true);
    }
    if (payload.sender === this.table.selfName) throw new Error("sync refused");
    this.merge(payload.entries);
    return this.wire.sealSync(payload.join, this.localState());
  }

  /** A join under a name that a member holds, alive, at another address: that member, else null. */
  private nameHolder(payload: SyncPayload): Member | null {
    if (!payload.join) return null;
    const claimed = payload.entries.find((e) => e.name === payload.sender);
    const known = this.table.members.get(payload.sender);
    if (!claimed || !known || known.state !== "alive" || known.address === claimed.address) return null;
    return known;
  }

  /**
   * A crashed holder not yet found dead must not block its own restart elsewhere, so the
   * holder is pinged first: only one that answers is a real duplicate (we always are).
   */
  private async stillAlive(holder: Member): Promise<StateEntry | null> {
    const isSelf = holder.name === this.table.selfName;
    if (!isSelf && !(await this.prober.confirmAlive(holder, Math.min(1_000, 4 * this.config.probeTimeoutMs)))) return null;
    return { name: holder.name, address: holder.address, incarnation: holder.incarnation, state: holder.state, meta: holder.meta };
  }

  async pushPullWith(address: string, join: boolean): Promise<boolean> {
    if (this.stoppedForGood) return false;
    try {
      const reply = await this.transport.exchange(address, this.wire.sealSync(join, this.localState()), SYNC_TIMEOUT_MS);
      if (this.stoppedForGood) return false;
      const payload = this.wire.openSync(reply, address, join); // a seed may share our name: it says so
      if (!payload) return false;
      if (payload.conflict) {
        const holder = payload.entries[0];
        this.onNameConflict?.({ name: this.table.selfName, address: holder?.address ?? "unknown", seed: address });
        return false;
      }
      this.merge(payload.entries);
      return true;
    } catch (err) {
      this.log.debug({ address, err: err instanceof Error ? err.message : String(err) }, "membership: push-pull failed");
      return false;
    }
  }

  private localState(): StateEntry[] {
    const out: StateEntry[] = [];
    for (const m of this.table.members.values()) {
      const entry: StateEntry = { name: m.name, address: m.address, incarnation: m.incarnation, state: m.state, meta: m.meta };
      if (this.proofs && m.proof) {
        entry.proof = m.proof;
        const cert = this.proofs.certificate(m.name);
        if (cert) entry.cert = cert;
      }
      out.push(entry);
    }
    return out;
  }

  /** A remote "dead" only makes a member suspect here: we check for ourselves. */
  private merge(entries: StateEntry[]): void {
    const self = this.table.selfName;
    for (const e of entries) {
      if (this.proofs && e.cert && e.name !== self) this.proofs.learn(e.name, e.cert);
      switch (e.state) {
        case "alive":
          this.table.aliveNode({ type: MessageType.Alive, name: e.name, address: e.address, incarnation: e.incarnation, meta: e.meta, ...(e.proof ? { proof: e.proof } : {}) });
          break;
        case "left":
          this.table.deadNode({ type: MessageType.Dead, name: e.name, incarnation: e.incarnation, from: e.name, ...(e.proof ? { proof: e.proof } : {}) });
          break;
        case "dead":
        case "suspect":
          this.table.suspectNode({ type: MessageType.Suspect, name: e.name, incarnation: e.incarnation, from: self });
          break;
      }
    }
  }

  /**
   * One push-pull per interval scaled with the cluster's size as it is when the wait ends, as
   * memberlist re-reads its estimate of N at each tick: the first wait began when this member
   * knew only itself (N = 1, the unscaled interval), so once the cluster has grown meanwhile
   * the wait is stretched to the scaled interval instead of syncing the full state early.
   */
  private schedulePeriodic(): void {
    if (this.stopped) return;
    // Jitter so members do not sync in lockstep.
    const jitter = 0.5 + this.random.next();
    const since = this.clock.now();
    const left = (): number => pushPullScale(this.config.pushPullIntervalMs, this.table.numAlive()) * jitter - (this.clock.now() - since);
    const due = (): void => {
      const more = left();
      if (more >= 1) return this.once(more, due);
      const [peer] = this.prober.randomMembers(1, (m) => m.state === "alive");
      if (peer) void this.pushPullWith(peer.address, false);
      this.schedulePeriodic();
    };
    this.once(left(), due);
  }

  /** Jittered (±25 %): members that started or lost a peer together do not knock in lockstep. */
  private scheduleReconnect(): void {
    if (this.stopped) return;
    this.once(this.config.reconnectIntervalMs * (0.75 + 0.5 * this.random.next()), () => {
      this.reconnect();
      this.scheduleReconnect();
    });
  }

  private reconnect(): void {
    const now = this.clock.now();
    for (const [name, d] of this.departed) {
      const m = this.table.members.get(name);
      if (now - d.since > d.forMs || m?.state === "alive" || m?.state === "suspect") this.departed.delete(name);
    }
    if (this.departed.size === 0) return;
    const names = [...this.departed.keys()];
    const name = names[Math.floor(this.random.next() * names.length)]!;
    void this.pushPullWith(this.departed.get(name)!.address, false);
  }

  private once(ms: number, fn: () => void): void {
    const timer = this.clock.setTimeout(() => {
      this.timers.delete(timer);
      fn();
    }, ms);
    this.timers.add(timer);
  }
}
