/**
 * Results of methods declared with `cache: { ttl_s, tags? }`. The router consults it where a
 * call enters and, for calls from other nodes, where the method runs, so a forwarded call finds
 * a fresh entry on either node. Tags are scoped by service (as `this.cache` scopes them), and
 * `{param}` in a tag is replaced by that param's value.
 */
import { P2PError } from "../errors.js";
import type { CallResult, MethodResultCache } from "../rpc/router.js";
import { methodCacheKey } from "./cache.js";
import type { TwoLevelCache } from "./two-level.js";

export interface MethodCachePolicy {
  ttl_s: number;
  tags?: readonly string[];
}

const PLACEHOLDER = /\{([A-Za-z_$][\w$]*)\}/g;

/** A method's declared tags for one call, scoped as `<service>:<tag>`. */
export function methodTags(service: string, tags: readonly string[] | undefined, params: Record<string, unknown>): string[] | undefined {
  if (!tags || tags.length === 0) return undefined;
  return tags.map((tag) => `${service}:${tag.replace(PLACEHOLDER, (_m, name: string) => tagValue(params[name]))}`);
}

function tagValue(value: unknown): string {
  if (value === undefined || value === null) return "";
  return typeof value === "object" ? JSON.stringify(value) : String(value);
}

export class MethodCache implements MethodResultCache {
  constructor(
    private readonly cache: TwoLevelCache,
    private readonly nodeId: string,
  ) {}

  async getOrLoad(service: string, method: string, params: Record<string, unknown>, policy: MethodCachePolicy, load: () => Promise<CallResult>): Promise<CallResult> {
    let ranHere: CallResult | undefined;
    const key = methodCacheKey(service, method, params);
    const result = await this.cache.getOrLoad(
      key,
      policy.ttl_s * 1000,
      async () => {
        ranHere = await load();
        return ranHere.result;
      },
      methodTags(service, policy.tags, params),
      // Another caller's deadline is not this caller's: its TIMEOUT makes this one load itself.
      { ownFailure: (err) => err instanceof P2PError && err.code === "TIMEOUT" },
    );
    return ranHere ?? { result, nodeId: this.nodeId };
  }
}
