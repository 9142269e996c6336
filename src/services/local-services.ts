import type { BaseService } from "./base-service.js";
import type { MethodDescriptor } from "./method-options.js";
import type { ParamsValidator } from "./schema.js";
import type { ServiceMeta } from "../cluster/types.js";

export interface LocalMethod {
  descriptor: MethodDescriptor;
  /** The bound implementation. */
  invoke: (params: Record<string, unknown>) => unknown;
  validate: ParamsValidator | null;
}

export interface LocalService {
  name: string;
  version: string;
  description: string;
  instance: BaseService;
  /** Balancing strategy callers should use for this service (static BALANCER). */
  balancer?: "round-robin" | "random" | "least-latency";
  methods: Map<string, LocalMethod>;
  status: "running" | "stopped";
  /** SHA-256 of the artifact of a deployed service (absent for static services). */
  artifact?: string;
  /** False while a service is being withdrawn: it still serves, but is no longer gossiped. */
  announced?: boolean;
}

/** A service that could not be loaded or initialised on this node, with the reason. */
export interface FailedService {
  name: string;
  error: string;
}

/** The services running on this node. The cluster-wide view is derived from membership. */
export class LocalServices {
  private readonly services = new Map<string, LocalService>();
  private readonly failedServices = new Map<string, FailedService>();

  /** Remembers that a service failed to load or initialise (shown in /health and /cluster/*). */
  recordFailure(name: string, error: string): void {
    this.failedServices.set(name, { name, error: error.slice(0, 500) });
  }

  /** Forgets a failure, e.g. once the service loads after all. */
  clearFailure(name: string): void {
    this.failedServices.delete(name);
  }

  failures(): FailedService[] {
    return [...this.failedServices.values()];
  }

  add(service: LocalService): void {
    if (this.services.has(service.name)) throw new Error(`service "${service.name}" is already loaded`);
    this.services.set(service.name, service);
    this.failedServices.delete(service.name);
  }

  /** Puts `service` in place of the one of the same name (if any), atomically for new calls; returns the old one. */
  replace(service: LocalService): LocalService | undefined {
    const previous = this.services.get(service.name);
    this.services.set(service.name, service);
    return previous;
  }

  remove(name: string, expected?: LocalService): void {
    if (expected === undefined || this.services.get(name) === expected) this.services.delete(name);
  }

  get(name: string): LocalService | undefined {
    return this.services.get(name);
  }

  list(): LocalService[] {
    return [...this.services.values()];
  }

  /** What this node gossips about its services. */
  meta(): ServiceMeta[] {
    return this.list().filter((s) => s.announced !== false).map((s) => ({
      name: s.name,
      ...(s.artifact ? { artifact: s.artifact } : {}),
      version: s.version,
      description: s.description,
      ...(s.balancer ? { balancer: s.balancer } : {}),
      methods: [...s.methods.values()].map(({ descriptor: d }) => {
        const m: ServiceMeta["methods"][number] = { name: d.name, public: d.public === true, idempotent: d.idempotent === true };
        if (d.description) m.description = d.description;
        if (d.cache) m.cache = d.cache.tags?.length ? { ttl_s: d.cache.ttl_s, tags: [...d.cache.tags] } : { ttl_s: d.cache.ttl_s };
        if (d.timeout_ms !== undefined) m.timeout_ms = d.timeout_ms;
        return m;
      }),
    }));
  }
}
