/**
 * The node's deployment plane: the artifact store, the replicated desired state, placement,
 * the reconciler that makes this node run what it is assigned, and the audit trail.
 */
import type { Logger } from "../log.js";
import { ArtifactStore } from "./artifact-store.js";
import { audit } from "./audit.js";

export interface DeployManagerOptions {
  nodeId: string;
  dataDir: string;
  logger: Logger;
}

export class DeployManager {
  readonly store: ArtifactStore;
  private readonly logger: Logger;

  constructor(private readonly opts: DeployManagerOptions) {
    this.store = new ArtifactStore(opts.dataDir);
    this.logger = opts.logger.child({ component: "deploy" });
  }

  async init(): Promise<void> {
    await this.store.init();
  }

  async putArtifact(sha: string, bytes: Buffer, signature: Buffer | undefined, who: string): Promise<{ sha256: string; size: number }> {
    const stored = await this.store.put(sha, bytes, signature);
    audit(this.logger, who, "artifact.upload", { artifact: sha, size: stored.size, signed: signature !== undefined });
    return stored;
  }
}
