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
}

/** The services running on this node. The cluster-wide view is derived from membership. */
export class LocalServices {
  private readonly services = new Map<string, LocalService>();

  add(service: LocalService): void {
    if (this.services.has(service.name)) throw new Error(`service "${service.name}" is already loaded`);
    this.services.set(service.name, service);
  }

  get(name: string): LocalService | undefined {
    return this.services.get(name);
  }

  list(): LocalService[] {
    return [...this.services.values()];
  }

  /** What this node gossips about its services. */
  meta(): ServiceMeta[] {
    return this.list().map((s) => ({
      name: s.name,
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
