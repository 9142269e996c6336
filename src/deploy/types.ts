/** Shapes of the deployment plane: the replicated desired state and what each node reports. */
import type { NodeRole } from "../cluster/types.js";

/** Where a service runs: named nodes, or every (or `count`) alive node matching role and labels. */
export interface Placement {
  nodes?: string[];
  role?: NodeRole;
  labels?: Record<string, string>;
  count?: number;
}

/** One service's desired state; the same record on every node once replication settles. */
export interface DeploymentRecord {
  service: string;
  /** SHA-256 of the artifact to run. */
  artifact: string;
  placement: Placement;
  /** Grows with every write for this service; the higher generation wins. */
  generation: number;
  /** Random id of the write: breaks a tie between equal generations the same way everywhere. */
  write_id: string;
  /** Earlier artifacts, oldest first (rollback pops the last). */
  history: string[];
  /** Undeployed: kept as a tombstone so an old copy never brings it back. */
  deleted: boolean;
  /** Written by a rollback. */
  rolled_back: boolean;
  /** Token subject of the admin who wrote it, and when (ISO). */
  by: string;
  at: string;
  /** The node that took the write (it holds the artifact). */
  origin: string;
}

export type NodeDeployState = "pending" | "starting" | "running" | "failed" | "stopped";

/** Gossiped by each node per deployed service, about the generation it last worked on. */
export interface DeploymentReport {
  generation: number;
  state: NodeDeployState;
  /** The artifact this node runs now (the previous one after a failure), if any. */
  running?: string;
  version?: string;
  error?: string;
}

export type DeploymentStatus = "rolling" | "ready" | "failed" | "rolled_back";

export interface DeploymentView {
  service: string;
  artifact: string;
  version: string | null;
  generation: number;
  placement: Placement;
  status: DeploymentStatus;
  nodes: Record<string, { state: NodeDeployState; artifact: string | null; error?: string }>;
  /** Set when fewer nodes match the placement than it asks for. */
  message?: string;
  updated_by: string;
  updated_at: string;
}

/** a replaces b when it has a higher generation, or the same one and a higher write id. */
export function supersedes(a: DeploymentRecord, b: DeploymentRecord | undefined): boolean {
  if (!b) return true;
  return a.generation > b.generation || (a.generation === b.generation && a.write_id > b.write_id);
}
