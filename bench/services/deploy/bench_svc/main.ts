import { createHash } from "node:crypto";
import { BaseService, serviceMethod } from "p2p-core";

/** ~0.5 ms of CPU, like bench_echo's compute. */
function work(n: number): string {
  let digest = String(n);
  for (let i = 0; i < 400; i++) digest = createHash("sha256").update(digest).digest("hex");
  return digest;
}

/**
 * The service of bench/deploy.ts. It has no SERVICE_NAME, so the same code runs statically
 * (named after its folder) and deployed under another name, in the same node.
 */
export default class BenchSvc extends BaseService {
  static VERSION = "1.0.0";

  @serviceMethod({ public: true, idempotent: true })
  async echo(params: Record<string, unknown>) {
    return params;
  }

  @serviceMethod({ public: true, idempotent: true })
  async compute({ n = 1 }: { n?: number }) {
    return { n, digest: work(n) };
  }
}
