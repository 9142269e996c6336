import type { ClusterRegistry } from "../cluster/registry.js";
import type { MemberView, MethodMeta, ServiceMeta } from "../cluster/types.js";
import type { LocalService, LocalServices } from "../services/local-services.js";
import type { JsonSchema } from "../services/method-options.js";

/** A method as clients see it: the console builds its form from `params`. */
export interface MethodDescription {
  name: string;
  description: string;
  public: boolean;
  idempotent: boolean;
  cache: { ttl_s: number } | null;
  /** JSON schema of the params object; null when the method declares none (or it could not be fetched). */
  params: JsonSchema | null;
  timeout_ms?: number;
}

export interface ServiceHost {
  node_id: string;
  version: string;
  /** "running" on an alive node, else the node's state; "failed" when it could not load there. */
  status: string;
  error?: string;
}

export interface ServiceDescription {
  name: string;
  description: string;
  nodes: ServiceHost[];
  methods: MethodDescription[];
}

/** Name of the peer-link operation answering with a service's params schemas. */
export const SCHEMAS_OPERATION = "service_schemas";
/** How long a node waits for a peer's schemas before showing the method without them. */
const FETCH_TIMEOUT_MS = 1000;

export function describeMethods(service: LocalService): MethodDescription[] {
  return [...service.methods.values()].map(({ descriptor: d }) => ({
    name: d.name,
    description: d.description ?? "",
    public: d.public === true,
    idempotent: d.idempotent === true,
    cache: d.cache ? { ttl_s: d.cache.ttl_s } : null,
    params: d.params ?? null,
    ...(d.timeout_ms !== undefined ? { timeout_ms: d.timeout_ms } : {}),
  }));
}

function fromMeta(m: MethodMeta, params: JsonSchema | null): MethodDescription {
  return {
    name: m.name,
    description: m.description ?? "",
    public: m.public,
    idempotent: m.idempotent,
    cache: m.cache ?? null,
    params,
    ...(m.timeout_ms !== undefined ? { timeout_ms: m.timeout_ms } : {}),
  };
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

export interface CatalogueDeps {
  localId: string;
  registry: ClusterRegistry;
  local: LocalServices;
  /** Asks a peer (over the peer link) for the params schemas of one of its services. */
  fetchSchemas(member: MemberView, service: string, timeoutMs: number): Promise<unknown>;
}

/**
 * Every service running anywhere in the cluster with its methods. Gossip carries each method's
 * name, description and flags but not its params schema (schemas can be large and gossip
 * packets are small), so schemas are fetched from a node running the service, once per
 * (service, version), and kept while that version runs somewhere.
 */
export class ServiceCatalogue {
  private readonly schemas = new Map<string, Record<string, JsonSchema | null>>();
  private readonly pending = new Map<string, Promise<void>>();

  constructor(private readonly deps: CatalogueDeps) {}

  /** The answer to a peer's SCHEMAS_OPERATION: this node's schemas of one service. */
  localSchemas(params: Record<string, unknown>): { version: string; params: Record<string, JsonSchema | null> } | null {
    const service = typeof params.service === "string" ? this.deps.local.get(params.service) : undefined;
    if (!service) return null;
    return { version: service.version, params: Object.fromEntries(describeMethods(service).map((m) => [m.name, m.params])) };
  }

  /** Fetches the schemas not known yet (bounded in time; failures are retried next time). */
  async refresh(): Promise<void> {
    const work: Promise<void>[] = [];
    for (const [name, meta, host] of this.sources()) {
      if (host.nodeId === this.deps.localId && this.deps.local.get(name)) continue;
      const key = `${name}@${meta.version}`;
      if (this.schemas.has(key)) continue;
      let job = this.pending.get(key);
      if (!job) {
        job = this.fetch(key, host, name).finally(() => this.pending.delete(key));
        this.pending.set(key, job);
      }
      work.push(job);
    }
    await Promise.all(work);
    this.prune();
  }

  /** The catalogue from what is known now (call refresh() first for every schema). */
  services(): ServiceDescription[] {
    const out: ServiceDescription[] = [];
    for (const [name, meta, host] of this.sources()) {
      const local = host.nodeId === this.deps.localId ? this.deps.local.get(name) : undefined;
      const known = this.schemas.get(`${name}@${meta.version}`);
      const methods = local ? describeMethods(local) : meta.methods.map((m) => fromMeta(m, known?.[m.name] ?? null));
      out.push({ name, description: meta.description ?? "", nodes: this.hostsOf(name), methods: methods.sort((a, b) => a.name.localeCompare(b.name)) });
    }
    for (const failed of this.failedOnly()) out.push(failed);
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }

  /**
   * Per service running on a live node: the node whose definition is shown (this node if it
   * runs it, else an alive host) and its metadata. Services only departed nodes ran are gone.
   */
  private *sources(): Generator<[string, ServiceMeta, MemberView]> {
    for (const name of this.runningNames()) {
      const hosts = this.deps.registry.hostsOf(name);
      const host = hosts.find((h) => h.nodeId === this.deps.localId) ?? hosts.find((h) => h.state === "alive") ?? hosts.find((h) => h.state === "suspect");
      const meta = host ? this.deps.registry.serviceOn(host.nodeId, name) : undefined;
      if (host && meta) yield [name, meta, host];
    }
  }

  private runningNames(): string[] {
    return Object.keys(this.deps.registry.serviceMap()).filter((name) => this.deps.registry.hostsOf(name).some((h) => h.state === "alive" || h.state === "suspect"));
  }

  private hostsOf(name: string): ServiceHost[] {
    const out: ServiceHost[] = [];
    for (const m of this.deps.registry.members()) {
      const s = m.meta?.services.find((x) => x.name === name);
      if (s) out.push({ node_id: m.nodeId, version: s.version, status: m.state === "alive" ? "running" : m.state });
      const failed = m.meta?.failed_services?.find((f) => f.name === name);
      if (failed && !s && m.state === "alive") out.push({ node_id: m.nodeId, version: "", status: "failed", error: failed.error });
    }
    return out.sort((a, b) => a.node_id.localeCompare(b.node_id));
  }

  /** Services that run nowhere but failed somewhere: listed so the failure is visible. */
  private failedOnly(): ServiceDescription[] {
    const running = new Set(this.runningNames());
    const names = new Set<string>();
    for (const m of this.deps.registry.members()) {
      if (m.state !== "alive") continue;
      for (const f of m.meta?.failed_services ?? []) if (!running.has(f.name)) names.add(f.name);
    }
    return [...names].map((name) => ({ name, description: "", nodes: this.hostsOf(name), methods: [] }));
  }

  private async fetch(key: string, host: MemberView, service: string): Promise<void> {
    try {
      const answer = await this.deps.fetchSchemas(host, service, FETCH_TIMEOUT_MS);
      if (!isObj(answer) || !isObj(answer.params)) return;
      const params: Record<string, JsonSchema | null> = {};
      for (const [method, schema] of Object.entries(answer.params)) params[method] = isObj(schema) ? (schema as JsonSchema) : null;
      this.schemas.set(key, params);
    } catch {
      // Shown without schemas this time; asked again on the next refresh.
    }
  }

  /** Forgets schemas of versions that run nowhere any more. */
  private prune(): void {
    const live = new Set<string>();
    for (const m of this.deps.registry.members()) for (const s of m.meta?.services ?? []) live.add(`${s.name}@${s.version}`);
    for (const key of this.schemas.keys()) if (!live.has(key)) this.schemas.delete(key);
  }
}
