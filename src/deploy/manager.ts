/**
 * The node's deployment plane: the artifact store, the replicated desired state, placement,
 * the reconciler that makes this node run what it is assigned, status and the audit trail.
 */
import type { KeyObject } from "node:crypto";
import type { Logger } from "../log.js";
import type { Clock, Timer } from "../util/clock.js";
import type { Random } from "../util/random.js";
import type { MemberView } from "../cluster/types.js";
import type { LocalServices } from "../services/local-services.js";
import { P2PError } from "../errors.js";
import { ArtifactStore } from "./artifact-store.js";
import { ArtifactFetcher, serveChunk, type PeerCall } from "./artifact-fetch.js";
import { DesiredState } from "./desired-state.js";
import { Replication } from "./replication.js";
import { Reconciler } from "./reconciler.js";
import type { HostSpec, ServiceHost } from "./service-host.js";
import { loadReleaseKey } from "./release-key.js";
import { deploymentView } from "./status.js";
import { audit, type Actor } from "../audit/audit.js";
import type { DeploymentReport, DeploymentView, Placement } from "./types.js";

/** How often reconciliation runs even when nothing announced a change. */
const RECONCILE_EVERY_MS = 2_000;
/** Membership changes come in bursts: one pass after they settle. */
const RECONCILE_DEBOUNCE_MS = 100;
/** How often artifacts no deployment needs are removed from the data dir. */
const PRUNE_EVERY_MS = 10 * 60_000;
/** An artifact nothing refers to is kept this long after it was written (an upload waits for its POST). */
const UNREFERENCED_GRACE_MS = 60 * 60_000;

/** Node-to-node operations of the deployment plane (served by linkOp). */
export const DEPLOY_OPERATIONS = ["deploy_chunk", "deploy_push", "deploy_sync"] as const;

export interface DeployManagerOptions {
  nodeId: string;
  dataDir: string;
  releaseKeyFile: string | undefined;
  logger: Logger;
  clock: Clock;
  random: Random;
  local: LocalServices;
  members(): MemberView[];
  onMembersChange(listener: () => void): void;
  call: PeerCall;
  startHost(spec: HostSpec, artifact: string): Promise<ServiceHost>;
  announce(): void;
  publish(type: string, data: unknown): void;
}

export class DeployManager {
  readonly store: ArtifactStore;
  readonly desired: DesiredState;
  private readonly fetcher: ArtifactFetcher;
  private readonly replication: Replication;
  private reconciler: Reconciler | null = null;
  private readonly logger: Logger;
  private timer: Timer | null = null;
  private pruneTimer: Timer | null = null;
  private debounce: Timer | null = null;
  private readonly published = new Map<string, string>();

  constructor(private readonly opts: DeployManagerOptions) {
    this.logger = opts.logger.child({ component: "deploy" });
    this.store = new ArtifactStore(opts.dataDir);
    this.desired = new DesiredState(opts.dataDir, opts.nodeId);
    this.fetcher = new ArtifactFetcher(this.store, opts.call);
    this.replication = new Replication({ localId: opts.nodeId, desired: this.desired, fetcher: this.fetcher, members: opts.members, call: opts.call, clock: opts.clock, random: opts.random, logger: this.logger });
  }

  /** Opens the data dir and reads the persisted desired state; throws when either is unusable. */
  async init(): Promise<void> {
    const releaseKey: KeyObject | null = this.opts.releaseKeyFile ? loadReleaseKey(this.opts.releaseKeyFile) : null;
    await this.store.init();
    await this.desired.load();
    this.reconciler = new Reconciler({
      localId: this.opts.nodeId, desired: this.desired, members: this.opts.members, local: this.opts.local, store: this.store, fetcher: this.fetcher,
      releaseKey, startHost: this.opts.startHost, announce: this.opts.announce, logger: this.logger, clock: this.opts.clock,
    });
  }

  /** Starts replication and reconciliation (after the node joined the cluster). */
  start(): void {
    this.desired.onChange(() => this.schedule());
    this.opts.onMembersChange(() => {
      this.replication.membersChanged();
      this.schedule();
    });
    this.replication.start();
    this.timer = this.opts.clock.setInterval(() => this.tick(), RECONCILE_EVERY_MS);
    this.pruneTimer = this.opts.clock.setInterval(() => void this.prune(Date.now() - UNREFERENCED_GRACE_MS), PRUNE_EVERY_MS);
    this.tick();
  }

  /**
   * Frees disk: removes artifacts (and their unpacked folders) that no live deployment runs or
   * could roll back to, none runs here, and were written before `unreferencedBefore` (epoch ms).
   */
  async prune(unreferencedBefore: number): Promise<string[]> {
    const keep = new Set<string>(this.reconciler?.runningArtifacts() ?? []);
    for (const r of this.desired.live()) for (const sha of [r.artifact, ...r.history]) keep.add(sha);
    try {
      const removed = await this.store.prune(keep, unreferencedBefore);
      if (removed.length > 0) this.logger.info({ removed }, "artifacts no deployment needs removed from the data dir");
      return removed;
    } catch (err) {
      this.logger.warn({ err: err instanceof Error ? err.message : String(err) }, "pruning artifacts failed");
      return [];
    }
  }

  async stop(): Promise<void> {
    this.timer?.cancel();
    this.pruneTimer?.cancel();
    this.debounce?.cancel();
    this.replication.stop();
    await this.reconciler?.stopAll();
  }

  /** This node's reports, gossiped in its metadata. */
  reports(): Record<string, DeploymentReport> {
    return this.reconciler?.reportMap() ?? {};
  }

  /** Serves one of DEPLOY_OPERATIONS for a peer. */
  linkOp(method: (typeof DEPLOY_OPERATIONS)[number], params: Record<string, unknown>, from: string): Promise<unknown> {
    if (method === "deploy_chunk") return serveChunk(this.store, params);
    if (method === "deploy_push") return this.replication.handlePush(params, from);
    return this.replication.handleSync(params);
  }

  async putArtifact(sha: string, bytes: Buffer, signature: Buffer | undefined, who: Actor): Promise<{ sha256: string; size: number }> {
    const stored = await this.store.put(sha, bytes, signature);
    audit(this.logger, who, "artifact.upload", { artifact: sha, size: stored.size, signed: signature !== undefined });
    return stored;
  }

  async deploy(service: string, artifact: string, placement: Placement, who: Actor): Promise<DeploymentView> {
    const staticHost = this.opts.members().find((m) => (m.state === "alive" || m.state === "suspect") && m.meta?.services.some((s) => s.name === service && !s.artifact));
    if (staticHost || (this.opts.local.get(service) && !this.opts.local.get(service)!.artifact)) {
      throw new P2PError("CONFLICT", `"${service}" is a static service (loaded from a services dir on ${staticHost?.nodeId ?? this.opts.nodeId}); it cannot be deployed over`);
    }
    if (!(await this.fetcher.ensure(artifact, this.opts.members().filter((m) => m.state === "alive" && m.nodeId !== this.opts.nodeId)))) {
      throw new P2PError("BAD_REQUEST", `artifact ${artifact} is not stored on any node: upload it first (PUT /admin/artifacts/${artifact})`);
    }
    return this.write(service, { artifact, placement }, who, "deploy");
  }

  async undeploy(service: string, who: Actor): Promise<DeploymentView> {
    this.live(service);
    return this.write(service, { deleted: true }, who, "undeploy");
  }

  async rollback(service: string, who: Actor): Promise<DeploymentView> {
    if (this.live(service).history.length === 0) throw new P2PError("CONFLICT", `deployment "${service}" has no previous artifact to roll back to`);
    return this.write(service, { rollback: true }, who, "rollback");
  }

  list(): DeploymentView[] {
    const members = this.opts.members();
    return this.desired.live().map((r) => deploymentView(r, members));
  }

  view(service: string): DeploymentView {
    return deploymentView(this.live(service), this.opts.members());
  }

  private live(service: string) {
    const record = this.desired.get(service);
    if (!record || record.deleted) throw new P2PError("NOT_FOUND", `no deployment named "${service}"`);
    return record;
  }

  /** Applies a write here, pushes it, and answers once another node holds it too. */
  private async write(service: string, change: Parameters<DesiredState["draft"]>[1], who: Actor, action: "deploy" | "undeploy" | "rollback"): Promise<DeploymentView> {
    const record = this.desired.draft(service, change, who.sub);
    await this.desired.merge([record]);
    audit(this.logger, who, action, { service, artifact: record.artifact, generation: record.generation, placement: record.placement });
    const replicated = await this.replication.push(record);
    if (!replicated) {
      throw new P2PError("UNAVAILABLE", `the ${action} of "${service}" (generation ${record.generation}) is stored on this node only; no other node confirmed it. It will spread when peers are reachable; check GET /admin/deployments/${service}`);
    }
    this.schedule();
    return deploymentView(record, this.opts.members());
  }

  private schedule(): void {
    this.debounce?.cancel();
    this.debounce = this.opts.clock.setTimeout(() => this.tick(), RECONCILE_DEBOUNCE_MS);
  }

  private tick(): void {
    this.reconciler?.run();
    this.publishChanges();
  }

  /** A `deployment` event each time a deployment's status or per-node states change. */
  private publishChanges(): void {
    const members = this.opts.members();
    for (const record of this.desired.all()) {
      const view = record.deleted ? null : deploymentView(record, members);
      const data = view ? { service: view.service, generation: view.generation, status: view.status, nodes: view.nodes, ...(view.message ? { message: view.message } : {}) } : { service: record.service, generation: record.generation, status: "removed", nodes: {} };
      const key = JSON.stringify(data);
      if (this.published.get(record.service) === key) continue;
      const first = !this.published.has(record.service);
      this.published.set(record.service, key);
      if (first && record.deleted) continue;
      this.opts.publish("deployment", data);
    }
  }
}
