import { createHash } from "node:crypto";
import { BaseService, serviceMethod } from "p2p-core";

/** ~0.5 ms of CPU: what a cache saves. */
function work(n: number): string {
  let digest = String(n);
  for (let i = 0; i < 400; i++) digest = createHash("sha256").update(digest).digest("hex");
  return digest;
}

/** The callee of the RPC and cache benchmarks. */
export default class BenchEcho extends BaseService {
  static SERVICE_NAME = "bench_echo";

  @serviceMethod({ public: true, idempotent: true })
  async echo(params: Record<string, unknown>) {
    return params;
  }

  @serviceMethod({ public: true, idempotent: true })
  async compute({ n = 1 }: { n?: number }) {
    return { n, digest: work(n) };
  }

  @serviceMethod({ public: true, idempotent: true, cache: { ttl_s: 300 } })
  async compute_cached({ n = 1 }: { n?: number }) {
    return { n, digest: work(n) };
  }
}
