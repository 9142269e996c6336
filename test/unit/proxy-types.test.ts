import { describe, expect, it } from "vitest";
import { attachContext, BaseService } from "../../src/services/base-service.js";
import { serviceMethod } from "../../src/services/method-options.js";
import type { ServiceProxy, TypedClusterProxy, UntypedServiceProxy } from "../../src/services/proxy-types.js";
import { stubContext } from "../helpers/service-context.js";

class Billing extends BaseService {
  @serviceMethod({ public: true })
  async charge(params: { amount: number; currency: string }) {
    return { ok: true as const, amount: params.amount };
  }
  @serviceMethod({ public: true })
  async list_invoices() {
    return [] as string[];
  }
  @serviceMethod({ public: true })
  async search({ q = "" }: { q?: string }) {
    return { q };
  }
}

/** Compile-time checks: `npm test` typechecks this file, so a wrong call fails the build. */
function typedCalls(proxy: ServiceProxy<Billing>): Promise<unknown>[] {
  const ok: Promise<{ ok: true; amount: number }> = proxy.charge({ amount: 5, currency: "EUR" }, { node: "n1", timeoutMs: 100 });
  const noParams: Promise<string[]> = proxy.list_invoices();
  const optionalParams = proxy.search();
  // @ts-expect-error: unknown method
  const unknownMethod = proxy.refund({ amount: 1 });
  // @ts-expect-error: wrong params type
  const badParams = proxy.charge({ amount: "5", currency: "EUR" });
  // @ts-expect-error: required params left out
  const missingParams = proxy.charge();
  return [ok, unknownMethod, badParams, noParams, optionalParams, missingParams];
}

/** Lifecycle and framework members are not remote methods; the cluster proxy is closed over ServiceRegistry. */
function closedProxy(proxy: ServiceProxy<Billing>, cluster: TypedClusterProxy, untyped: UntypedServiceProxy): unknown[] {
  // @ts-expect-error: lifecycle methods are not callable remotely
  const init = proxy.initialize;
  // @ts-expect-error: neither is cleanup
  const clean = proxy.cleanup;
  // @ts-expect-error: a service not declared in ServiceRegistry does not compile
  const typo = cluster.invntory;
  const health: Promise<{ status: "ok" }> = cluster.system.health_check();
  const chosen: Promise<{ n: number }> = untyped.anything<{ n: number }>({ a: 1 });
  return [init, clean, typo, health, chosen];
}

describe("typed proxies", () => {
  it("proxyFor<S>() hands out the node's proxy for that service, typed by S", async () => {
    const asked: unknown[] = [];
    const billing = new Billing();
    const context = stubContext(
      { name: "billing", version: "1", description: "" },
      {
        proxyFor: (service, options) => {
          asked.push([service, options]);
          // Like the real proxy: any name is a remote method; unknown ones fail when called.
          return new Proxy({} as UntypedServiceProxy, {
            get: (_target, method) =>
              (async (params?: Record<string, unknown>) => {
                if (method !== "charge") throw new Error("METHOD_NOT_FOUND");
                return { ok: true, amount: params?.amount };
              }) as UntypedServiceProxy[string],
          });
        },
      },
    );
    attachContext(billing, context);
    const results = await Promise.allSettled(typedCalls(billing.proxyFor<Billing>("billing", { node: "n1" })));
    expect(asked).toEqual([["billing", { node: "n1" }]]);
    expect(results[0]).toEqual({ status: "fulfilled", value: { ok: true, amount: 5 } });
    expect(results[1]!.status).toBe("rejected"); // refund does not exist at run time either
    expect(typeof closedProxy).toBe("function");
  });
});
