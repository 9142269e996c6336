import { describe, expect, it } from "vitest";
import { BaseService } from "../../src/services/base-service.js";
import { serviceMethod } from "../../src/services/method-options.js";
import { P2PError } from "../../src/errors.js";
import { createTestBed } from "../../src/testing/index.js";

class Inventory extends BaseService {
  static override SERVICE_NAME = "inventory";
  runs = 0;
  stock: Record<string, number> = { A: 3 };
  @serviceMethod({ cache: { ttl_s: 60, tags: ["sku:{sku}"] } })
  async get_stock({ sku }: { sku: string }) {
    this.runs++;
    return { sku, count: this.stock[sku] ?? 0 };
  }
  @serviceMethod()
  async reserve({ sku }: { sku: string }) {
    if (!this.stock[sku]) throw new P2PError("CONFLICT", `${sku} is sold out`);
    this.stock[sku]! -= 1;
    await this.cache.invalidate({ tag: `sku:${sku}` });
    return { reserved: sku };
  }
}

class Orders extends BaseService {
  static override SERVICE_NAME = "orders";
  /** Field initialisers see the node already. */
  readonly bornOn = this.nodeId;
  aborted: unknown = null;
  @serviceMethod({ public: true })
  async place_order({ sku }: { sku: string }) {
    const inventory = this.proxyFor<Inventory>("inventory");
    await inventory.reserve({ sku });
    return { ok: true, left: (await inventory.get_stock({ sku })).count, node: this.nodeId };
  }
  @serviceMethod({ public: true })
  async slow() {
    await new Promise<void>((resolve) => this.call.signal.addEventListener("abort", () => resolve(), { once: true }));
    this.aborted = this.call.signal.reason;
    return "late";
  }
  @serviceMethod({ public: true })
  async where() {
    return { nodes: this.cluster.nodes().map((n) => n.node_id), orders: this.cluster.nodesOf("orders"), remaining: this.call.remainingMs(), role: this.call.caller.role };
  }
  @serviceMethod()
  async ping_all() {
    return this.broadcast("inventory", "get_stock", { sku: "A" });
  }
}

describe("createTestBed", () => {
  it("runs services in-process with real peers, method caches and tags", async () => {
    const bed = await createTestBed({ services: [Orders, Inventory] });
    expect(await bed.call("orders.place_order", { sku: "A" })).toEqual({ ok: true, left: 2, node: "test-node" });
    expect(await bed.call("inventory.get_stock", { sku: "A" })).toEqual({ sku: "A", count: 2 });
    expect(bed.service<Inventory>("inventory").runs).toBe(1); // the cached entry answered
    await bed.call("orders.place_order", { sku: "A" }); // reserve drops the tagged entry
    expect(bed.service<Inventory>("inventory").runs).toBe(2);
    await bed.cacheOf("inventory").invalidate({ service: "inventory", method: "get_stock", params: { sku: "A" } });
    await bed.call("inventory.get_stock", { sku: "A" });
    expect(bed.service<Inventory>("inventory").runs).toBe(3);
    bed.clock.advance(60_001); // the TTL runs on the bed's clock
    await bed.call("inventory.get_stock", { sku: "A" });
    expect(bed.service<Inventory>("inventory").runs).toBe(4);
    await bed.call("orders.place_order", { sku: "A" });
    await expect(bed.call("orders.place_order", { sku: "A" })).rejects.toMatchObject({ code: "CONFLICT", status: 409 });
    expect(bed.service<Orders>("orders").bornOn).toBe("test-node");
    expect(await bed.call("orders.ping_all")).toMatchObject({ ok: 1, failed: 0, results: { "test-node": { result: { sku: "A", count: 0 } } } });
    expect(await bed.call("orders.where", {}, { timeoutMs: 500 })).toEqual({ nodes: ["test-node"], orders: ["test-node"], remaining: 500, role: "admin" });
    await expect(bed.call("inventory.reserve", { sku: "A" }, { role: "client" })).rejects.toMatchObject({ code: "FORBIDDEN" });
    await bed.close();
  });

  it("stubs peers and records their calls", async () => {
    const bed = await createTestBed({
      services: [Orders],
      stubs: { inventory: { reserve: () => ({ reserved: true }), get_stock: ({ sku }) => ({ sku, count: 7 }) } },
    });
    expect(await bed.call("orders.place_order", { sku: "B" })).toMatchObject({ ok: true, left: 7 });
    expect(bed.calls).toEqual([
      { service: "inventory", method: "reserve", params: { sku: "B" } },
      { service: "inventory", method: "get_stock", params: { sku: "B" } },
    ]);
    await expect(bed.call("inventory.nope")).rejects.toMatchObject({ code: "METHOD_NOT_FOUND" });
  });

  it("fires this.call.signal at the deadline on the fake clock, and when the caller goes away", async () => {
    const bed = await createTestBed({ services: [Orders] });
    const late = bed.call("orders.slow", {}, { timeoutMs: 100 });
    bed.clock.advance(100);
    await expect(late).rejects.toMatchObject({ code: "TIMEOUT", message: "deadline of 100 ms exceeded" });
    await Promise.resolve();
    expect(bed.service<Orders>("orders").aborted).toMatchObject({ code: "TIMEOUT" });

    const hangUp = new AbortController();
    const gone = bed.call("orders.slow", {}, { signal: hangUp.signal });
    hangUp.abort();
    await expect(gone).rejects.toMatchObject({ code: "UNAVAILABLE" });
    expect(bed.service<Orders>("orders").aborted).toMatchObject({ code: "UNAVAILABLE" });
  });

  it("states the lifecycle rules with clear errors", async () => {
    expect(() => new Orders()).toThrow(/Orders is not attached to a node: .*createTestBed\(\)/);
    class EarlyCaller extends BaseService {
      static override SERVICE_NAME = "early";
      readonly health = this.proxy.system.health_check();
      @serviceMethod() async m() {
        return 1;
      }
    }
    await expect(createTestBed({ services: [EarlyCaller] })).rejects.toThrow(/this.proxy cannot be used in a constructor or field initialiser of EarlyCaller/);
    class CallOutside extends BaseService {
      static override SERVICE_NAME = "outside";
      override async initialize() {
        void this.call;
      }
      @serviceMethod() async m() {
        return 1;
      }
    }
    await expect(createTestBed({ services: [CallOutside] })).rejects.toThrow(/this.call is only available while a method of CallOutside runs/);
    class Lifecycle extends BaseService {
      static override SERVICE_NAME = "lifecycle";
      @serviceMethod() override async cleanup() {}
    }
    await expect(createTestBed({ services: [Lifecycle] })).rejects.toThrow(/"cleanup" cannot be a @serviceMethod/);
  });
});
