import type { MemberState, MemberView, MethodMeta, ServiceMeta } from "./types.js";

/** The part of membership the registry reads. Membership is the single source of truth. */
export interface MembershipSource {
  readonly localId: string;
  members(): MemberView[];
  onChange(listener: () => void): () => void;
}

const STATE_RANK: Record<MemberState, number> = { alive: 1, suspect: 2, dead: 3, left: 4 };

interface Index {
  members: MemberView[];
  byId: Map<string, MemberView>;
  /** service → method → meta (first definition seen, the local one first). */
  methods: Map<string, Map<string, MethodMeta>>;
  /** service → nodes hosting it (any state). */
  hosts: Map<string, MemberView[]>;
  leader: string | null;
  /** service → alive hosts other than this node, built on first use (the routing hot path). */
  aliveRemote: Map<string, MemberView[]>;
}

/** Who runs what, derived from member metadata and rebuilt lazily after each membership change. */
export class ClusterRegistry {
  private index: Index | null = null;

  constructor(private readonly source: MembershipSource) {
    source.onChange(() => {
      this.index = null;
    });
  }

  get localId(): string {
    return this.source.localId;
  }

  members(): MemberView[] {
    return this.current().members;
  }

  member(nodeId: string): MemberView | undefined {
    return this.current().byId.get(nodeId);
  }

  /** Nodes that host the service, in any state; the router filters by health. */
  hostsOf(service: string): MemberView[] {
    return this.current().hosts.get(service) ?? [];
  }

  /** Alive nodes other than this one that host the service; the same array until membership changes. */
  aliveRemoteHosts(service: string): MemberView[] {
    const index = this.current();
    let hosts = index.aliveRemote.get(service);
    if (!hosts) {
      hosts = (index.hosts.get(service) ?? []).filter((h) => h.state === "alive" && h.nodeId !== this.source.localId);
      index.aliveRemote.set(service, hosts);
    }
    return hosts;
  }

  hasService(service: string): boolean {
    return this.current().methods.has(service);
  }

  method(service: string, method: string): MethodMeta | undefined {
    return this.current().methods.get(service)?.get(method);
  }

  serviceOn(nodeId: string, service: string): ServiceMeta | undefined {
    return this.member(nodeId)?.meta?.services.find((s) => s.name === service);
  }

  /** The oldest live coordinator (earliest started_at, then smallest id); a suspect one keeps the role until declared dead, so a suspicion alone never moves leadership. */
  leader(): string | null {
    return this.current().leader;
  }

  stateCounts(): Record<MemberState, number> {
    const counts: Record<MemberState, number> = { alive: 0, suspect: 0, dead: 0, left: 0 };
    for (const m of this.members()) counts[m.state] += 1;
    return counts;
  }

  coordinators(): string[] {
    return this.members()
      .filter((m) => m.meta?.role === "coordinator" && (m.state === "alive" || m.state === "suspect"))
      .map((m) => m.nodeId)
      .sort();
  }

  /** service name → ids of alive nodes hosting it. */
  serviceMap(): Record<string, string[]> {
    const out: Record<string, string[]> = {};
    for (const [service, hosts] of [...this.current().hosts].sort(([a], [b]) => a.localeCompare(b))) {
      out[service] = hosts.filter((h) => h.state === "alive").map((h) => h.nodeId).sort();
    }
    return out;
  }

  private current(): Index {
    if (this.index) return this.index;
    const members = this.source.members();
    const localId = this.source.localId;
    // Local node first, then live members, so their method definitions win when versions differ.
    // Departed members still count until reaped: their services "exist" (503, not 404).
    const rank = (m: MemberView) => (m.nodeId === localId ? 0 : STATE_RANK[m.state]);
    members.sort((a, b) => rank(a) - rank(b) || a.nodeId.localeCompare(b.nodeId));
    const byId = new Map<string, MemberView>();
    const methods = new Map<string, Map<string, MethodMeta>>();
    const hosts = new Map<string, MemberView[]>();
    let leader: MemberView | null = null;
    for (const m of members) {
      byId.set(m.nodeId, m);
      if (!m.meta) continue;
      // Metadata is schema-checked at decode; these guards keep one odd entry from ever
      // breaking the whole index (and with it every route that reads it).
      for (const s of m.meta.services) {
        if (!s || typeof s.name !== "string" || !Array.isArray(s.methods)) continue;
        let table = methods.get(s.name);
        if (!table) methods.set(s.name, (table = new Map()));
        for (const meta of s.methods) if (meta && typeof meta.name === "string" && !table.has(meta.name)) table.set(meta.name, meta);
        const list = hosts.get(s.name);
        if (list) list.push(m);
        else hosts.set(s.name, [m]);
      }
      if (m.meta.role === "coordinator" && (m.state === "alive" || m.state === "suspect")) {
        if (!leader || m.meta.started_at < leader.meta!.started_at || (m.meta.started_at === leader.meta!.started_at && m.nodeId < leader.nodeId)) {
          leader = m;
        }
      }
    }
    this.index = { members, byId, methods, hosts, leader: leader?.nodeId ?? null, aliveRemote: new Map() };
    return this.index;
  }
}
