import { arch, cpus, freemem, hostname, loadavg, platform, release, totalmem, uptime } from "node:os";
import { performance } from "node:perf_hooks";
import { LoopLag } from "../../util/loop-lag.js";
import { BaseService } from "../base-service.js";
import { serviceMethod } from "../method-options.js";
import { VERSION } from "../../version.js";

const MB = 1024 * 1024;

/** Built-in service on every node. Reads process and OS counters only: nothing blocks, nothing shells out. */
export class SystemService extends BaseService {
  static override SERVICE_NAME = "system";
  static override VERSION = VERSION;
  static override DESCRIPTION = "Node health, system information and resource metrics";

  private readonly startedAt = Date.now();
  private readonly loopLag = new LoopLag(100);
  private lastCpu = process.cpuUsage();
  private lastCpuAt = performance.now();
  private lastElu = performance.eventLoopUtilization();

  override async initialize(): Promise<void> {
    this.loopLag.start();
  }

  override async cleanup(): Promise<void> {
    this.loopLag.stop();
  }

  @serviceMethod({ description: "Liveness of this node", public: true, idempotent: true })
  async health_check(): Promise<{ status: "ok"; node_id: string; uptime_s: number; timestamp: string }> {
    return {
      status: "ok",
      node_id: this.nodeId,
      uptime_s: Math.round((Date.now() - this.startedAt) / 1000),
      timestamp: new Date().toISOString(),
    };
  }

  @serviceMethod({ description: "Host, platform and runtime of this node", public: true, idempotent: true })
  async get_system_info(): Promise<Record<string, unknown>> {
    const cpuList = cpus();
    return {
      node_id: this.nodeId,
      version: VERSION,
      hostname: hostname(),
      platform: platform(),
      release: release(),
      arch: arch(),
      node_version: process.version,
      pid: process.pid,
      cpu_count: cpuList.length,
      cpu_model: cpuList[0]?.model ?? "unknown",
      memory_total_mb: Math.round(totalmem() / MB),
      system_uptime_s: Math.round(uptime()),
    };
  }

  @serviceMethod({ description: "CPU, memory and event-loop metrics of this node", public: true, idempotent: true })
  async get_system_metrics(): Promise<Record<string, unknown>> {
    const now = performance.now();
    const cpu = process.cpuUsage(this.lastCpu);
    const elapsedMs = Math.max(1, now - this.lastCpuAt);
    const elu = performance.eventLoopUtilization(this.lastElu);
    this.lastCpu = process.cpuUsage();
    this.lastCpuAt = now;
    this.lastElu = performance.eventLoopUtilization();
    const mem = process.memoryUsage();
    const [load1, load5, load15] = loadavg();
    return {
      node_id: this.nodeId,
      cpu_percent: Math.round(((cpu.user + cpu.system) / 1000 / elapsedMs) * 1000) / 10,
      load_average: { "1m": load1, "5m": load5, "15m": load15 },
      memory: {
        rss_mb: round(mem.rss / MB),
        heap_used_mb: round(mem.heapUsed / MB),
        heap_total_mb: round(mem.heapTotal / MB),
        system_free_mb: Math.round(freemem() / MB),
        system_total_mb: Math.round(totalmem() / MB),
      },
      event_loop: {
        utilization: round(elu.utilization),
        delay_p50_ms: round(this.loopLag.percentileMs(50)),
        delay_p99_ms: round(this.loopLag.percentileMs(99)),
      },
      uptime_s: Math.round(process.uptime()),
    };
  }
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}
