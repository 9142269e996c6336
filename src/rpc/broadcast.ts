import { P2PError, toP2PError, type WireError } from "../errors.js";
import type { ClusterRegistry } from "../cluster/registry.js";
import type { CallContext } from "./context.js";
import type { Router } from "./router.js";

/** One method on every alive node hosting its service: what /admin/broadcast and this.broadcast answer. */
export interface BroadcastResult {
  results: Record<string, { result: unknown } | { error: WireError }>;
  ok: number;
  failed: number;
}

/** Calls service.method on every alive host in parallel; a node's failure is its entry, never a throw. */
export async function broadcastCall(
  router: Router,
  registry: ClusterRegistry,
  ctx: CallContext,
  service: string,
  method: string,
  params: Record<string, unknown>,
): Promise<BroadcastResult> {
  if (!registry.hasService(service)) throw new P2PError("SERVICE_NOT_FOUND", `service "${service}" not found`);
  if (!registry.method(service, method)) throw new P2PError("METHOD_NOT_FOUND", `method "${method}" not found in service "${service}"`);
  const targets = registry.hostsOf(service).filter((h) => h.state === "alive").map((h) => h.nodeId);
  const settled = await Promise.all(
    targets.map(async (nodeId) => {
      try {
        const out = await router.call(ctx, service, method, params, { node: nodeId });
        return [nodeId, { result: out.result ?? null }] as const;
      } catch (err) {
        return [nodeId, { error: toP2PError(err).toJSON() }] as const;
      }
    }),
  );
  const ok = settled.filter(([, r]) => "result" in r).length;
  return { results: Object.fromEntries(settled), ok, failed: settled.length - ok };
}
