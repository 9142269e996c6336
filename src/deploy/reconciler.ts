/**
 * Makes this node run what the desired state assigns it: starts, replaces (new version ready
 * before the old one stops taking calls), withdraws. A replacement waits for its turn — every
 * target before this node (in id order) runs the new generation — so a rollout moves one node
 * at a time; a failure anywhere stops it, and the failing node keeps its previous version.
 */
import type { KeyObject } from "node:crypto";
import type { Logger } from "../log.js";
import type { Clock } from "../util/clock.js";
import type { MemberView } from "../cluster/types.js";
import type { LocalServices } from "../services/local-services.js";
import type { ArtifactStore } from "./artifact-store.js";
import type { ArtifactFetcher } from "./artifact-fetch.js";
import type { DesiredState } from "./desired-state.js";
import type { HostSpec, ServiceHost } from "./service-host.js";
import type { DeploymentRecord, DeploymentReport } from "./types.js";
import { place } from "./placement.js";
import { reportOf } from "./status.js";
import { checkSignature } from "./release-key.js";
import { audit } from "../audit/audit.js";

/** A withdrawn service keeps serving this long after it stops being gossiped, so callers move away first. */
const WITHDRAW_GRACE_MS = 2_000;

export interface ReconcilerDeps {
  localId: string;
  desired: DesiredState;
  members(): MemberView[];
  local: LocalServices;
  store: ArtifactStore;
  fetcher: ArtifactFetcher;
  releaseKey: KeyObject | null;
  startHost(spec: HostSpec, artifact: string): Promise<ServiceHost>;
  /** Re-gossips this node's metadata (services and reports changed). */
  announce(): void;
  logger: Logger;
  clock: Clock;
}

interface Running {
  host: ServiceHost;
  artifact: string;
}

export class Reconciler {
  private readonly running = new Map<string, Running>();
  private readonly reports = new Map<string, DeploymentReport>();
  /** service → generation that failed here (not retried until a new generation). */
  private readonly failed = new Map<string, number>();
  private readonly busy = new Set<string>();
  private again = false;
  private active = false;

  constructor(private readonly deps: ReconcilerDeps) {}

  /** What this node gossips about its deployed services. */
  reportMap(): Record<string, DeploymentReport> {
    return Object.fromEntries(this.reports);
  }

  /** Artifacts this node runs now (kept on disk whatever the desired state says). */
  runningArtifacts(): string[] {
    return [...this.running.values()].map((r) => r.artifact);
  }

  /** Runs a reconciliation pass (coalesced: a request during a pass runs one more pass). */
  run(): void {
    if (this.active) {
      this.again = true;
      return;
    }
    this.active = true;
    try {
      do {
        this.again = false;
        this.pass();
      } while (this.again);
    } finally {
      this.active = false;
    }
  }

  /** Stops every deployed service (node shutdown). */
  async stopAll(): Promise<void> {
    await Promise.all([...this.running.values()].map((r) => r.host.stop()));
    this.running.clear();
  }

  private pass(): void {
    const { desired, localId } = this.deps;
    const members = this.deps.members();
    const wanted = new Set<string>();
    for (const record of desired.all()) {
      if (this.busy.has(record.service)) {
        if (!record.deleted) wanted.add(record.service);
        continue;
      }
      const targets = record.deleted ? [] : place(record.service, record.placement, members).targets;
      if (!targets.includes(localId)) continue;
      wanted.add(record.service);
      this.converge(record, targets, members);
    }
    for (const service of this.running.keys()) if (!wanted.has(service) && !this.busy.has(service)) void this.withdraw(service);
    for (const service of this.reports.keys()) if (!wanted.has(service) && !this.running.has(service)) this.setReport(service, undefined);
  }

  private converge(record: DeploymentRecord, targets: string[], members: MemberView[]): void {
    const current = this.running.get(record.service);
    if (current && current.artifact === record.artifact) {
      this.setReport(record.service, { generation: record.generation, state: "running", running: current.artifact, version: current.host.service.version });
      return;
    }
    if (this.failed.get(record.service) === record.generation) return;
    const turn = this.turn(record, targets, members, current !== undefined);
    if (!turn) {
      this.setReport(record.service, { generation: record.generation, state: "pending", ...(current ? { running: current.artifact } : {}) });
      return;
    }
    void this.start(record);
  }

  /** A fresh start goes at once; a replacement waits for the targets before this node. No one moves after a failure. */
  private turn(record: DeploymentRecord, targets: string[], members: MemberView[], replacing: boolean): boolean {
    const byId = new Map(members.map((m) => [m.nodeId, m]));
    for (const id of targets) {
      if (id === this.deps.localId) continue;
      const r = reportOf(byId.get(id), record.service);
      if (r?.generation === record.generation && r.state === "failed") return false;
    }
    if (!replacing) return true;
    for (const id of targets) {
      if (id === this.deps.localId) break;
      const member = byId.get(id);
      if (!member || (member.state !== "alive" && member.state !== "suspect")) continue;
      const r = reportOf(member, record.service);
      if (!(r?.generation === record.generation && r.state === "running")) return false;
    }
    return true;
  }

  private async start(record: DeploymentRecord): Promise<void> {
    const { service, artifact, generation } = record;
    const previous = this.running.get(service);
    this.busy.add(service);
    this.setReport(service, { generation, state: "starting", ...(previous ? { running: previous.artifact } : {}) });
    try {
      const staticOne = this.deps.local.get(service);
      if (staticOne && !staticOne.artifact) throw new Error(`a static service named "${service}" runs on this node`);
      const peers = this.peersFor(record);
      if (!(await this.deps.fetcher.ensure(artifact, peers))) throw new Error("artifact not available from any peer");
      const signature = this.deps.releaseKey ? await this.deps.fetcher.signature(artifact, peers) : undefined;
      const refusal = checkSignature(this.deps.releaseKey, await this.deps.store.read(artifact), signature);
      if (refusal) throw new Error(refusal);
      const { dir, entry } = await this.deps.store.unpacked(artifact);
      const host = await this.deps.startHost({ name: service, fixedName: true, folder: dir, file: entry }, artifact);
      const latest = this.deps.desired.get(service);
      if (!latest || latest.deleted || latest.artifact !== artifact) {
        await host.stop();
        return; // the desired state moved on while this version started
      }
      this.deps.local.replace(host.service);
      this.running.set(service, { host, artifact });
      host.onExit((reason) => this.lost(service, host, reason));
      this.setReport(service, { generation: latest.generation, state: "running", running: artifact, version: host.service.version });
      this.deps.logger.info({ service, artifact, generation, version: host.service.version, replaced: previous?.artifact ?? null }, "deployed service running");
      if (previous) void previous.host.stop();
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      this.failed.set(service, generation);
      this.setReport(service, { generation, state: "failed", error: reason, ...(previous ? { running: previous.artifact } : {}) });
      this.deps.logger.error({ service, artifact, generation, err: reason, kept: previous?.artifact ?? null }, "deployed service failed to start");
      audit(this.deps.logger, { sub: record.by }, "rollout.failed", { service, artifact, generation, node: this.deps.localId, reason, kept: previous?.artifact ?? null });
    } finally {
      this.busy.delete(service);
      this.run();
    }
  }

  /** Peers to fetch from: the node that took the write first, then the others alive. */
  private peersFor(record: DeploymentRecord): MemberView[] {
    const others = this.deps.members().filter((m) => m.nodeId !== this.deps.localId && m.state === "alive");
    return others.sort((a, b) => Number(b.nodeId === record.origin) - Number(a.nodeId === record.origin));
  }

  private async withdraw(service: string): Promise<void> {
    const entry = this.running.get(service);
    if (!entry) return;
    this.busy.add(service);
    try {
      entry.host.service.announced = false;
      this.setReport(service, undefined);
      await new Promise<void>((resolve) => this.deps.clock.setTimeout(() => resolve(), WITHDRAW_GRACE_MS));
      this.deps.local.remove(service, entry.host.service);
      this.running.delete(service);
      this.deps.announce();
      await entry.host.stop();
      this.deps.logger.info({ service, artifact: entry.artifact }, "deployed service withdrawn from this node");
    } finally {
      this.busy.delete(service);
      this.run();
    }
  }

  private lost(service: string, host: ServiceHost, reason: string): void {
    const entry = this.running.get(service);
    if (entry?.host !== host) return;
    this.running.delete(service);
    this.deps.local.remove(service, host.service);
    const generation = this.deps.desired.get(service)?.generation ?? 0;
    this.failed.set(service, generation);
    this.setReport(service, { generation, state: "failed", error: reason });
    this.deps.logger.error({ service, reason }, "deployed service stopped unexpectedly");
  }

  private setReport(service: string, report: DeploymentReport | undefined): void {
    const before = JSON.stringify(this.reports.get(service));
    if (report) this.reports.set(service, report);
    else this.reports.delete(service);
    if (JSON.stringify(report) !== before) this.deps.announce();
  }
}
