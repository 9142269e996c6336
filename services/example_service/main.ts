import { BaseService, serviceMethod } from "p2p-core";

/** The bundled example: what the README teaches. */
export default class ExampleService extends BaseService {
  static SERVICE_NAME = "example_service";
  static VERSION = "1.0.0";
  static DESCRIPTION = "Examples of public, validated, cached and composed methods";

  private counter = 0;

  async initialize(): Promise<void> {
    this.logger.info("example_service up");
  }

  @serviceMethod({ description: "Say hello", public: true, idempotent: true })
  async hello({ name = "World" }: { name?: string }) {
    return { message: `Hello, ${name}!`, node: this.nodeId };
  }

  @serviceMethod({ description: "Return the params unchanged (fast path for benchmarks)", public: true, idempotent: true })
  async echo(params: Record<string, unknown>) {
    return params;
  }

  @serviceMethod({
    description: "Add two numbers",
    public: true,
    idempotent: true,
    params: {
      type: "object",
      properties: { a: { type: "number" }, b: { type: "number" } },
      required: ["a", "b"],
      additionalProperties: false,
    },
  })
  async add({ a, b }: { a: number; b: number }) {
    return { sum: a + b };
  }

  @serviceMethod({ description: "Count calls on this node (not idempotent)", public: true })
  async increment() {
    this.counter += 1;
    return { counter: this.counter, node: this.nodeId };
  }

  @serviceMethod({ description: "Wait ms milliseconds, then answer", public: true, idempotent: true })
  async sleep({ ms = 100 }: { ms?: number }) {
    const wait = Math.min(Math.max(0, Number(ms) || 0), 60_000);
    await new Promise((resolve) => setTimeout(resolve, wait));
    return { slept_ms: wait, node: this.nodeId };
  }

  @serviceMethod({ description: "Always throws (to see INTERNAL errors)", public: true })
  async fail({ message = "boom" }: { message?: string }) {
    throw new Error(message);
  }

  @serviceMethod({ description: "An admin-only method (not public)" })
  async secret() {
    return { secret: "only admins and services see this", node: this.nodeId };
  }

  @serviceMethod({ description: "Slow square, cached for 30 s", public: true, idempotent: true, cache: { ttl_s: 30 } })
  async slow_square({ n }: { n: number }) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    return { n, square: n * n, computed_by: this.nodeId, at: new Date().toISOString() };
  }

  @serviceMethod({ description: "Call system.health_check through the proxy", public: true, idempotent: true })
  async relay() {
    const health = await this.proxy.system.health_check({});
    return { via: this.nodeId, health };
  }
}
