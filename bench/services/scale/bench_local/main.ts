import { BaseService, serviceMethod } from "p2p-core";

/** bench/scale.ts: an echo on the driving node itself, for the local half of the measure. */
export default class BenchLocal extends BaseService {
  static SERVICE_NAME = "bench_local";

  @serviceMethod({ public: true, idempotent: true })
  async echo(params: Record<string, unknown>) {
    return params;
  }
}
