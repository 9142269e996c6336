import { Membership, type LivenessProofs, type Member, type MembershipConfig, type MembershipMetricsSink, type NameConflict } from "./membership/index.js";
import { UdpTransport } from "../transport/udp.js";
import type { Transport } from "../transport/transport.js";
import type { Random } from "../util/random.js";
import type { StreamSecurity, UpgradeRouter } from "../transport/upgrade.js";
import type { Keyring } from "../security/keyring.js";
import type { NodeMetrics } from "../metrics/metrics.js";
import type { Logger } from "../log.js";
import { systemClock, type Clock, type Timer } from "../util/clock.js";
import type { MembershipSource } from "./registry.js";
import type { MemberState, MemberView, NodeMeta } from "./types.js";
import { decodeMeta, encodeMeta, isValidMeta } from "./meta-codec.js";
import { SyncTickets } from "./sync-tickets.js";
import { MAX_REMEMBERED_PEERS, type PeerStore } from "./peer-store.js";

/** Membership changes are written to the peer store at most this often. */
const PEER_SAVE_DELAY_MS = 1_000;

export interface GossipOptions {
  nodeId: string;
  bindAddress: string;
  port: number;
  advertise: string;
  seeds: string[];
  keyring: Keyring;
  upgrades: UpgradeRouter;
  metrics: NodeMetrics;
  logger: Logger;
  config?: Partial<MembershipConfig>;
  clock?: Clock;
  random?: Random;
  /** A transport made elsewhere (tests: a simulated network); by default the node's UDP/TCP one. */
  transport?: Transport;
  /** Remembers peers across restarts; they are joined at start next to `seeds`. */
  peerStore?: PeerStore;
  /** Mutual TLS for push-pull streams (node certificates). */
  security?: StreamSecurity;
  /** Signed liveness (node certificates). */
  proofs?: LivenessProofs;
  /** A seed refused the join: another live node holds this node's id. */
  onNameConflict?: (conflict: NameConflict) => void;
}

/** The node's view of SWIM membership: real UDP/TCP transport, decoded metadata, metrics and logs. */
export class GossipMembership implements MembershipSource {
  readonly localId: string;
  private readonly clock: Clock;
  private membership: Membership | null = null;
  private transport: Transport | null = null;
  private readonly decoded = new WeakMap<Uint8Array, NodeMeta | null>();
  private readonly listeners = new Set<() => void>();
  private readonly departureListeners = new Set<(nodeId: string) => void>();
  private readonly forgetListeners = new Set<(nodeId: string) => void>();
  private peerSaveTimer: Timer | null = null;
  private savedPeers = "";

  constructor(private readonly opts: GossipOptions) {
    this.localId = opts.nodeId;
    this.clock = opts.clock ?? systemClock;
  }

  async start(meta: NodeMeta): Promise<void> {
    const { opts } = this;
    this.transport =
      opts.transport ??
      (await UdpTransport.create({
        bindAddress: opts.bindAddress,
        port: opts.port,
        advertise: opts.advertise,
        upgradeRouter: opts.upgrades,
        guard: new SyncTickets(opts.keyring),
        clock: this.clock,
        security: opts.security,
      }));
    const membership = new Membership({
      name: opts.nodeId,
      transport: this.transport,
      keyring: opts.keyring,
      meta: encodeMeta(meta),
      clock: this.clock,
      random: opts.random,
      config: opts.config,
      logger: opts.logger.child({ component: "membership" }),
      metrics: this.metricsSink(),
      validMeta: isValidMeta,
      onNameConflict: opts.onNameConflict,
      proofs: opts.proofs,
    });
    this.membership = membership;
    membership.onChange((member, previous) => {
      if (!previous || previous.state !== member.state) {
        opts.logger.info({ peer: member.name, address: member.address, state: member.state, previous: previous?.state ?? null, incarnation: member.incarnation }, "member state changed");
      }
      for (const l of this.listeners) l();
      const departed = (member.state === "dead" || member.state === "left") && previous?.state !== member.state;
      if (departed) for (const l of this.departureListeners) l(member.name);
      this.schedulePeerSave();
    });
    // A reaped member leaves members(): every view built from it (registry, routing,
    // /cluster/nodes, events) is told now, not at the next unrelated change.
    membership.onForget((member) => {
      opts.logger.info({ peer: member.name, address: member.address, state: member.state }, "member forgotten");
      for (const l of this.listeners) l();
      for (const l of this.forgetListeners) l(member.name);
    });
    membership.start();
    const seeds = this.seeds();
    if (seeds.length > 0) membership.joinWithRetry(seeds);
  }

  /** --coord first, then the peers remembered from the last run (not ourselves). */
  private seeds(): string[] {
    const self = `${this.opts.advertise}:${this.opts.port}`;
    const remembered = this.opts.peerStore?.load() ?? [];
    if (remembered.length > 0) this.opts.logger.info({ peers: remembered.length, file: this.opts.peerStore!.path }, "joining the peers remembered from the last run");
    return [...new Set([...this.opts.seeds, ...remembered])].filter((s) => s !== self);
  }

  private schedulePeerSave(): void {
    if (!this.opts.peerStore || this.peerSaveTimer) return;
    this.peerSaveTimer = this.clock.setTimeout(() => {
      this.peerSaveTimer = null;
      this.savePeers();
    }, PEER_SAVE_DELAY_MS);
  }

  /**
   * Coordinators first, then live members, then departed ones still known. An empty list is
   * never written: a node left alone keeps the peers it had, to find them after a restart.
   */
  private savePeers(): void {
    const store = this.opts.peerStore;
    if (!store || !this.membership) return;
    const rank = (m: Member): number => {
      const role = this.decode(m)?.role === "coordinator" ? 0 : 2;
      return role + (m.state === "alive" || m.state === "suspect" ? 0 : 1);
    };
    const others = this.membership.members().filter((m) => m.name !== this.localId);
    const peers = [...new Set(others.sort((a, b) => rank(a) - rank(b) || a.name.localeCompare(b.name)).map((m) => m.address))].slice(0, MAX_REMEMBERED_PEERS);
    const key = peers.join(",");
    if (peers.length === 0 || key === this.savedPeers) return;
    try {
      store.save(this.localId, peers);
      this.savedPeers = key;
    } catch (err) {
      this.opts.logger.warn({ file: store.path, err: err instanceof Error ? err.message : String(err) }, "cannot save the known peers (a restart without --coord will not find them)");
    }
  }

  members(): MemberView[] {
    if (!this.membership) return [];
    const wallOffset = Date.now() - this.clock.now();
    return this.membership.members().map((m) => this.view(m, wallOffset));
  }

  updateMeta(meta: NodeMeta): void {
    this.membership?.updateMeta(encodeMeta(meta));
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Called once each time a member becomes dead or left. */
  onDeparture(listener: (nodeId: string) => void): () => void {
    this.departureListeners.add(listener);
    return () => this.departureListeners.delete(listener);
  }

  /** Called once each time a departed member is reaped (it is no longer in members()). */
  onForget(listener: (nodeId: string) => void): () => void {
    this.forgetListeners.add(listener);
    return () => this.forgetListeners.delete(listener);
  }

  /** Broadcasts that this node leaves (peers mark it left at once), bounded by timeoutMs. */
  async leave(timeoutMs: number): Promise<void> {
    await this.membership?.leave(timeoutMs).catch(() => undefined);
  }

  async shutdown(): Promise<void> {
    this.peerSaveTimer?.cancel();
    this.peerSaveTimer = null;
    await this.membership?.shutdown();
    this.membership = null;
  }

  private decode(m: Member): NodeMeta | null {
    let meta = this.decoded.get(m.meta);
    if (meta === undefined) {
      meta = decodeMeta(m.meta);
      this.decoded.set(m.meta, meta);
    }
    return meta;
  }

  private view(m: Member, wallOffset: number): MemberView {
    const meta = this.decode(m);
    return { nodeId: m.name, address: m.address, state: m.state, incarnation: m.incarnation, meta, lastChange: Math.round(m.stateChangedAt + wallOffset) };
  }

  private metricsSink(): MembershipMetricsSink {
    const { metrics } = this.opts;
    const source = () => this.membership?.members() ?? [];
    // Counted when scraped: always current, nothing to keep in step.
    metrics.gauge("p2p_members", "Members this node knows, by state", ["state"], function () {
      const counts: Record<MemberState, number> = { alive: 0, suspect: 0, dead: 0, left: 0 };
      for (const m of source()) counts[m.state] += 1;
      for (const [state, n] of Object.entries(counts)) this.set({ state }, n);
    });
    const messages = metrics.counter("p2p_gossip_messages_total", "Membership protocol messages, by type and direction", ["type", "direction"]);
    const dropped = metrics.counter("p2p_gossip_dropped_total", "Membership packets dropped, by reason (auth, decode, replay, ...)", ["reason"]);
    const rtt = metrics.histogram("p2p_gossip_probe_rtt_seconds", "Round-trip time of successful direct probes", [], [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5]);
    return {
      message: (type, direction) => messages.labels(type, direction).inc(),
      dropped: (reason) => dropped.labels(reason).inc(),
      probeRtt: (ms) => rtt.observe(ms / 1000),
    };
  }
}
