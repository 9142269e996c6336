/**
 * The desired state: one versioned record per service, kept in `<data-dir>/deployments.json`
 * and merged with peers' copies (the higher generation wins, ties by write id), so every node
 * ends with the same records whatever order it hears them in.
 */
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { randomUUID } from "node:crypto";
import { checkRecord, nextHistory } from "./record-check.js";
import { supersedes, type DeploymentRecord, type Placement } from "./types.js";

const FILE = "deployments.json";
const MAX_RECORDS = 10_000;

export class DesiredState {
  private readonly records = new Map<string, DeploymentRecord>();
  private readonly listeners = new Set<(changed: DeploymentRecord[]) => void>();
  private readonly path: string;
  private saving: Promise<void> = Promise.resolve();

  constructor(dataDir: string, private readonly nodeId: string) {
    this.path = join(resolve(dataDir), FILE);
  }

  /** Reads what this node persisted before it (re)started; a damaged file is an error, not an empty state. */
  async load(): Promise<void> {
    let text: string;
    try {
      text = await readFile(this.path, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
      throw err;
    }
    const parsed = JSON.parse(text) as { records?: unknown[] };
    for (const raw of parsed.records ?? []) {
      const record = checkRecord(raw);
      if (record) this.records.set(record.service, record);
    }
  }

  get(service: string): DeploymentRecord | undefined {
    return this.records.get(service);
  }

  /** Every record, tombstones included (replication sends them all). */
  all(): DeploymentRecord[] {
    return [...this.records.values()].sort((a, b) => a.service.localeCompare(b.service));
  }

  live(): DeploymentRecord[] {
    return this.all().filter((r) => !r.deleted);
  }

  onChange(listener: (changed: DeploymentRecord[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The record a new write would create (not applied). */
  draft(service: string, change: { artifact?: string; placement?: Placement; deleted?: boolean; rollback?: boolean }, by: string): DeploymentRecord {
    const previous = this.records.get(service);
    const base = {
      service,
      generation: (previous?.generation ?? 0) + 1,
      write_id: `${Date.now().toString(36).padStart(9, "0")}-${randomUUID()}`,
      by,
      at: new Date().toISOString(),
      origin: this.nodeId,
    };
    if (change.deleted) {
      if (!previous) throw new Error("no such deployment");
      return { ...previous, ...base, deleted: true, rolled_back: false };
    }
    if (change.rollback) {
      if (!previous || previous.deleted) throw new Error("no such deployment");
      const history = [...previous.history];
      const artifact = history.pop();
      if (!artifact) throw new Error("no previous artifact");
      return { ...previous, ...base, artifact, history, deleted: false, rolled_back: true };
    }
    const artifact = change.artifact!;
    return { ...base, artifact, placement: change.placement ?? {}, history: nextHistory(previous, artifact), deleted: false, rolled_back: false };
  }

  /** Merges records (from an admin or a peer); persists and notifies when any won. */
  async merge(incoming: DeploymentRecord[]): Promise<DeploymentRecord[]> {
    const changed: DeploymentRecord[] = [];
    for (const record of incoming) {
      if (!supersedes(record, this.records.get(record.service))) continue;
      if (!this.records.has(record.service) && this.records.size >= MAX_RECORDS) continue;
      this.records.set(record.service, record);
      changed.push(record);
    }
    if (changed.length === 0) return changed;
    await this.persist();
    for (const l of this.listeners) l(changed);
    return changed;
  }

  /** Writes are serialised; each writes the whole state to a temporary file and renames it. */
  private persist(): Promise<void> {
    const snapshot = JSON.stringify({ version: 1, records: this.all() });
    this.saving = this.saving.then(async () => {
      await mkdir(resolve(this.path, ".."), { recursive: true });
      const tmp = `${this.path}.${randomUUID().slice(0, 8)}.tmp`;
      await writeFile(tmp, snapshot);
      await rename(tmp, this.path);
    });
    return this.saving;
  }
}
