import { describe, expect, it } from "vitest";
import pino from "pino";
import { attachContext, BaseService, type ServiceContext } from "../../src/services/base-service.js";
import { serviceMethod } from "../../src/services/method-options.js";
import type { ServiceProxy } from "../../src/services/proxy-types.js";

class Billing extends BaseService {
  @serviceMethod({ public: true })
  async charge(params: { amount: number; currency: string }) {
    return { ok: true as const, amount: params.amount };
  }
}

/** Compile-time checks: `npm test` typechecks this file, so a wrong call fails the build. */
function typedCalls(proxy: ServiceProxy<Billing>): Promise<unknown>[] {
  const ok: Promise<{ ok: true; amount: number }> = proxy.charge({ amount: 5, currency: "EUR" }, { node: "n1", timeoutMs: 100 });
  // @ts-expect-error: unknown method
  const unknownMethod = proxy.refund({ amount: 1 });
  // @ts-expect-error: wrong params type
  const badParams = proxy.charge({ amount: "5", currency: "EUR" });
  return [ok, unknownMethod, badParams];
}

describe("typed proxies", () => {
  it("proxyFor<S>() hands out the node's proxy for that service, typed by S", async () => {
    const asked: unknown[] = [];
    const billing = new Billing();
    const context: ServiceContext = {
      nodeId: "n1",
      logger: pino({ level: "silent" }),
      cache: {} as ServiceContext["cache"],
      info: { name: "billing", version: "1", description: "" },
      proxy: {},
      proxyFor: (service, options) => {
        asked.push([service, options]);
        // Like the real proxy: any name is a remote method; unknown ones fail when called.
        return new Proxy({} as Record<string, (params?: Record<string, unknown>) => Promise<unknown>>, {
          get: (_target, method) => async (params?: Record<string, unknown>) => {
            if (method !== "charge") throw new Error("METHOD_NOT_FOUND");
            return { ok: true, amount: params?.amount };
          },
        });
      },
    };
    attachContext(billing, context);
    const results = await Promise.allSettled(typedCalls(billing.proxyFor<Billing>("billing", { node: "n1" })));
    expect(asked).toEqual([["billing", { node: "n1" }]]);
    expect(results[0]).toEqual({ status: "fulfilled", value: { ok: true, amount: 5 } });
    expect(results[1]!.status).toBe("rejected"); // refund does not exist at run time either
  });
});
