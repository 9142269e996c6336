/**
 * Fetching an artifact this node lacks from a peer that has it, over the peer link, in chunks;
 * the whole is checked against its SHA-256 (and every archive rule) before it is kept.
 */
import type { MemberView } from "../cluster/types.js";
import type { ArtifactStore } from "./artifact-store.js";
import { MAX_ARTIFACT_BYTES, sha256Of } from "./artifact-store.js";

export const CHUNK_BYTES = 1024 * 1024;
const CHUNK_TIMEOUT_MS = 15_000;

export type PeerCall = (member: MemberView, method: string, params: Record<string, unknown>, timeoutMs: number) => Promise<unknown>;

interface ChunkAnswer {
  size: number;
  data: string;
  signature?: string;
}

/** Serves one chunk (the link's internal op); null when this node does not have the artifact. */
export async function serveChunk(store: ArtifactStore, params: Record<string, unknown>): Promise<ChunkAnswer | null> {
  const sha = String(params.sha256 ?? "");
  const offset = Number(params.offset ?? 0);
  if (!Number.isSafeInteger(offset) || offset < 0) return null;
  const chunk = await store.readChunk(sha, offset, params.signature_only === true ? 0 : CHUNK_BYTES);
  if (!chunk) return null;
  const signature = offset === 0 ? await store.signature(sha) : undefined;
  return { size: chunk.size, data: chunk.data.toString("base64"), ...(signature ? { signature: signature.toString("base64") } : {}) };
}

export class ArtifactFetcher {
  private readonly inProgress = new Map<string, Promise<boolean>>();

  constructor(private readonly store: ArtifactStore, private readonly call: PeerCall) {}

  /** Makes sure the artifact is here; tries `peers` in order. Resolves false when none had it. */
  ensure(sha: string, peers: MemberView[]): Promise<boolean> {
    let work = this.inProgress.get(sha);
    if (!work) {
      work = this.fetch(sha, peers).finally(() => this.inProgress.delete(sha));
      this.inProgress.set(sha, work);
    }
    return work;
  }

  /**
   * A signature can arrive after the artifact (uploaded unsigned first, then signed): when this
   * node has the artifact but no signature, ask peers for theirs. The caller verifies it.
   */
  async signature(sha: string, peers: MemberView[]): Promise<Buffer | undefined> {
    const local = await this.store.signature(sha);
    if (local) return local;
    for (const peer of peers) {
      try {
        const answer = (await this.call(peer, "deploy_chunk", { sha256: sha, offset: 0, signature_only: true }, CHUNK_TIMEOUT_MS)) as ChunkAnswer | null;
        if (answer?.signature) {
          const signature = Buffer.from(answer.signature, "base64");
          await this.store.putSignature(sha, signature);
          return signature;
        }
      } catch {
        // try the next peer
      }
    }
    return undefined;
  }

  private async fetch(sha: string, peers: MemberView[]): Promise<boolean> {
    if (await this.store.has(sha)) return true;
    for (const peer of peers) {
      try {
        const got = await this.fetchFrom(sha, peer);
        if (got) {
          await this.store.put(sha, got.bytes, got.signature);
          return true;
        }
      } catch {
        // try the next peer
      }
    }
    return false;
  }

  private async fetchFrom(sha: string, peer: MemberView): Promise<{ bytes: Buffer; signature?: Buffer } | null> {
    const parts: Buffer[] = [];
    let offset = 0;
    let size = -1;
    let signature: Buffer | undefined;
    do {
      const answer = (await this.call(peer, "deploy_chunk", { sha256: sha, offset }, CHUNK_TIMEOUT_MS)) as ChunkAnswer | null;
      if (!answer) return null;
      if (size === -1) {
        size = answer.size;
        if (!Number.isSafeInteger(size) || size <= 0 || size > MAX_ARTIFACT_BYTES) return null;
        if (answer.signature) signature = Buffer.from(answer.signature, "base64");
      }
      const data = Buffer.from(answer.data, "base64");
      if (data.length === 0 || answer.size !== size) return null;
      parts.push(data);
      offset += data.length;
    } while (offset < size);
    const bytes = Buffer.concat(parts);
    if (sha256Of(bytes) !== sha) return null;
    return { bytes, ...(signature ? { signature } : {}) };
  }
}
