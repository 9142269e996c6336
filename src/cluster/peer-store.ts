import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/**
 * The gossip addresses of the peers a node last knew, kept in its data dir so that a node
 * restarted without seeds (a coordinator) finds its cluster again by itself. One file per
 * node id: several nodes started from one working directory share `./data`.
 */
export const MAX_REMEMBERED_PEERS = 32;

interface PeerFile {
  node_id: string;
  saved_at: string;
  peers: string[];
}

export class PeerStore {
  readonly path: string;

  constructor(dataDir: string, nodeId: string) {
    this.path = join(dataDir, "peers", `${nodeId}.json`);
  }

  /** The addresses saved last time; [] when there is no file or it cannot be read. */
  load(): string[] {
    let text: string;
    try {
      text = readFileSync(this.path, "utf8");
    } catch {
      return [];
    }
    try {
      const file = JSON.parse(text) as Partial<PeerFile>;
      if (!Array.isArray(file.peers)) return [];
      return file.peers.filter((p): p is string => typeof p === "string" && /^[A-Za-z0-9.\-:[\]]+:\d{1,5}$/.test(p)).slice(0, MAX_REMEMBERED_PEERS);
    } catch {
      return [];
    }
  }

  /** Replaces the file atomically (write + rename), so a crash never leaves half a file. */
  save(nodeId: string, peers: string[]): void {
    const file: PeerFile = { node_id: nodeId, saved_at: new Date().toISOString(), peers: peers.slice(0, MAX_REMEMBERED_PEERS) };
    mkdirSync(join(this.path, ".."), { recursive: true });
    const tmp = `${this.path}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(file, null, 2)}\n`);
    renameSync(tmp, this.path);
  }
}
