import { P2PError } from "../errors.js";
import type { Clock } from "../util/clock.js";
import type { InflightTracker } from "../util/inflight.js";
import { isInvalidationSelector, type InvalidationSelector } from "../cache/cache.js";
import type { LinkHandler } from "../transport/peer-link/index.js";
import type { Router } from "./router.js";
import { newTraceId, traceIdOf, type CallContext } from "./context.js";

/** Node-to-node operations that are not service methods; reachable only over the authenticated link. */
export const INTERNAL_SERVICE = "$p2p";

export interface LinkHandlerDeps {
  router: Router;
  clock: Clock;
  inflight: InflightTracker;
  isDraining(): boolean;
  /** Drops matching cache entries on this node; how many. */
  invalidateLocal(selector: InvalidationSelector): number;
  /** Further node-to-node operations by name (e.g. metrics snapshots). */
  operations?: Record<string, (params: Record<string, unknown>, fromNodeId: string) => unknown>;
}

/** The target side of a remote call: the caller's identity and remaining budget come with it. */
export function createLinkHandler(deps: LinkHandlerDeps): LinkHandler {
  // Not async: the router's promise is the call's answer (an async frame would add one per call).
  return (call, fromNodeId, served) => {
    if (call.service === INTERNAL_SERVICE) return internal(deps, call.method, call.params, fromNodeId);
    if (deps.isDraining()) return Promise.reject(new P2PError("UNAVAILABLE", "node is draining", { reason: "draining" }));
    const ctx: CallContext = { caller: call.caller, deadline: deps.clock.now() + call.timeoutMs, traceId: traceIdOf(call.traceparent) ?? newTraceId() };
    if (call.traceparent) ctx.traceparent = call.traceparent;
    if (call.cancel) ctx.cancel = call.cancel;
    // Counted among the node's calls in flight (its drain waits for it, its shutdown may cut it).
    served.trackIn(deps.inflight);
    return deps.router.serveRemote(ctx, call.service, call.method, call.params);
  };
}

async function internal(deps: LinkHandlerDeps, method: string, params: Record<string, unknown>, fromNodeId: string): Promise<unknown> {
  if (method === "cache_invalidate") {
    if (!isInvalidationSelector(params.selector)) throw new P2PError("INVALID_PARAMS", "selector is not an invalidation selector");
    return { ok: true, dropped: deps.invalidateLocal(params.selector) };
  }
  const operation = deps.operations && Object.hasOwn(deps.operations, method) ? deps.operations[method] : undefined;
  if (operation) return operation(params, fromNodeId);
  throw new P2PError("METHOD_NOT_FOUND", `internal operation "${method}" not found`);
}
