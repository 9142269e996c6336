/**
 * Spreading the desired state over the peer link. A write is pushed to every alive member and
 * acknowledged once another node has persisted the record and holds the artifact; anti-entropy
 * (a full exchange with one random alive member every few seconds, and with every member that
 * joins) repairs whatever a push missed: restarts, partitions, late joiners.
 */
import type { Logger } from "../log.js";
import type { Clock, Timer } from "../util/clock.js";
import type { Random } from "../util/random.js";
import type { MemberView } from "../cluster/types.js";
import type { DesiredState } from "./desired-state.js";
import type { ArtifactFetcher, PeerCall } from "./artifact-fetch.js";
import { checkRecord } from "./record-check.js";
import type { DeploymentRecord } from "./types.js";

const SYNC_INTERVAL_MS = 3_000;
const PUSH_TIMEOUT_MS = 20_000;
const SYNC_TIMEOUT_MS = 5_000;

export interface ReplicationDeps {
  localId: string;
  desired: DesiredState;
  fetcher: ArtifactFetcher;
  members(): MemberView[];
  call: PeerCall;
  clock: Clock;
  random: Random;
  logger: Logger;
}

export class Replication {
  private timer: Timer | null = null;
  private readonly known = new Set<string>();

  constructor(private readonly deps: ReplicationDeps) {}

  start(): void {
    this.timer = this.deps.clock.setInterval(() => void this.syncWithRandomPeer(), SYNC_INTERVAL_MS);
  }

  stop(): void {
    this.timer?.cancel();
  }

  /** Membership moved: exchange state with members newly seen alive (a joiner or a healed partition). */
  membersChanged(): void {
    for (const m of this.others()) {
      if (this.known.has(m.nodeId)) continue;
      this.known.add(m.nodeId);
      void this.syncWith(m);
    }
    const alive = new Set(this.others().map((m) => m.nodeId));
    for (const id of this.known) if (!alive.has(id)) this.known.delete(id);
  }

  /** Pushes a write; true once some other node persisted it and holds its artifact (true at once when alone). */
  async push(record: DeploymentRecord): Promise<boolean> {
    const others = this.others();
    if (others.length === 0) return true;
    return new Promise((resolve) => {
      let left = others.length;
      const done = (ok: boolean) => {
        if (ok) resolve(true);
        if (--left === 0) resolve(false);
      };
      for (const m of others) {
        this.deps.call(m, "deploy_push", { records: [record] }, PUSH_TIMEOUT_MS).then(
          (answer) => done((answer as { artifact?: unknown } | null)?.artifact === true),
          (err: unknown) => {
            this.deps.logger.debug({ peer: m.nodeId, err: err instanceof Error ? err.message : String(err) }, "deployment push not delivered");
            done(false);
          },
        );
      }
    });
  }

  /** deploy_push: persist, then fetch the artifacts before answering (the writer's ack waits for that). */
  async handlePush(params: Record<string, unknown>, from: string): Promise<{ stored: boolean; artifact: boolean }> {
    const records = this.parse(params.records);
    await this.deps.desired.merge(records);
    const peers = this.deps.members().filter((m) => m.nodeId === from && m.state !== "dead" && m.state !== "left");
    const fetched = await Promise.all(records.filter((r) => !r.deleted).map((r) => this.deps.fetcher.ensure(r.artifact, [...peers, ...this.others()])));
    return { stored: true, artifact: fetched.every(Boolean) };
  }

  /** deploy_sync: merge the peer's records, answer with ours. */
  async handleSync(params: Record<string, unknown>): Promise<{ records: DeploymentRecord[] }> {
    await this.deps.desired.merge(this.parse(params.records));
    this.prefetch();
    return { records: this.deps.desired.all() };
  }

  private async syncWithRandomPeer(): Promise<void> {
    const others = this.others();
    if (others.length === 0) return;
    await this.syncWith(others[Math.floor(this.deps.random.next() * others.length)]!);
  }

  private async syncWith(peer: MemberView): Promise<void> {
    try {
      const answer = (await this.deps.call(peer, "deploy_sync", { records: this.deps.desired.all() }, SYNC_TIMEOUT_MS)) as { records?: unknown } | null;
      await this.deps.desired.merge(this.parse(answer?.records));
      this.prefetch();
    } catch (err) {
      this.deps.logger.debug({ peer: peer.nodeId, err: err instanceof Error ? err.message : String(err) }, "deployment sync failed");
    }
  }

  /** Every node keeps every live artifact, so any of them can serve it (and survive its writer's death). */
  private prefetch(): void {
    for (const r of this.deps.desired.live()) {
      const peers = this.others().sort((a, b) => Number(b.nodeId === r.origin) - Number(a.nodeId === r.origin));
      void this.deps.fetcher.ensure(r.artifact, peers);
    }
  }

  private parse(value: unknown): DeploymentRecord[] {
    if (!Array.isArray(value) || value.length > 10_000) return [];
    return value.map(checkRecord).filter((r): r is DeploymentRecord => r !== null);
  }

  private others(): MemberView[] {
    return this.deps.members().filter((m) => m.nodeId !== this.deps.localId && m.state === "alive" && m.meta !== null);
  }
}
