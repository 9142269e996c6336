/**
 * A service running in its own worker thread, seen by the node as an ordinary local service:
 * the router invokes its methods, which cross to the thread as messages. Stopping it lets
 * calls in flight finish, runs cleanup() and terminates the thread, which frees everything
 * the service loaded (ES modules cannot be unloaded from a thread that keeps running).
 */
import { Worker } from "node:worker_threads";
import { P2PError } from "../errors.js";
import type { Logger } from "../log.js";
import type { Clock } from "../util/clock.js";
import { currentCall, type CallContext } from "../rpc/context.js";
import { compileParamsSchema } from "../services/schema.js";
import { BaseService, type ServiceContext } from "../services/base-service.js";
import type { LocalMethod, LocalService } from "../services/local-services.js";
import type { ServiceCacheApi } from "../services/service-cache-api.js";
import type { CallInfo, ClusterSnapshot, FromHost, HostInit, ServiceShape, ToHost } from "./host-protocol.js";

/** What a hosted service needs from the node: the same context a static service gets, on the main thread. */
export interface HostDeps {
  nodeId: string;
  lifecycleTimeoutMs: number;
  context: ServiceContext;
  clock: Clock;
  logger: Logger;
  /** Subscribes to membership changes (the thread's `this.cluster` is refreshed on each). */
  onClusterChange(listener: () => void): () => void;
}

/** Where the service's files are, and the name it runs under. */
export type HostSpec = Pick<HostInit, "name" | "fixedName" | "folder" | "file">;

const WORKER_URL = new URL("./host-worker.js", import.meta.url);
/** Heap cap of a hosted service, so one service cannot exhaust the node's memory. */
const MAX_OLD_GENERATION_MB = 512;

/** Stands in for the service instance in the node's registry: cleanup() stops the thread. */
class HostedService extends BaseService {
  constructor(private readonly host: ServiceHost) {
    super();
  }
  override async cleanup(): Promise<void> {
    await this.host.stop();
  }
}

export class ServiceHost {
  readonly service: LocalService;
  private readonly calls = new Map<number, { resolve(v: unknown): void; reject(e: unknown): void; ctx: CallContext | undefined }>();
  private nextId = 1;
  private exited = false;
  private stopping: Promise<void> | null = null;
  private readonly exitListeners = new Set<(reason: string) => void>();
  private unsubscribe: () => void = () => undefined;

  private constructor(private readonly worker: Worker, shape: ServiceShape, private readonly deps: HostDeps, artifact: string | undefined) {
    const methods = new Map<string, LocalMethod>();
    for (const descriptor of shape.methods) {
      methods.set(descriptor.name, {
        descriptor,
        invoke: (params) => this.invoke(descriptor.name, params),
        validate: descriptor.params ? compileParamsSchema(descriptor.params) : null,
      });
    }
    this.service = {
      name: shape.name,
      version: shape.version,
      description: shape.description,
      ...(shape.balancer ? { balancer: shape.balancer } : {}),
      ...(artifact ? { artifact } : {}),
      instance: new HostedService(this),
      methods,
      status: "running",
    };
  }

  /** Loads and initialises the service in a new thread; rejects with the reason it could not. */
  static start(spec: HostSpec, deps: HostDeps, artifact?: string): Promise<ServiceHost> {
    const init: HostInit = { ...spec, nodeId: deps.nodeId, lifecycleTimeoutMs: deps.lifecycleTimeoutMs, cluster: snapshot(deps.context) };
    const worker = new Worker(WORKER_URL, { workerData: init, resourceLimits: { maxOldGenerationSizeMb: MAX_OLD_GENERATION_MB }, stdout: false, stderr: false });
    return new Promise((resolve, reject) => {
      let host: ServiceHost | null = null;
      const early = (msg: FromHost) => {
        if (msg.t === "log") forwardLog(deps.logger, msg);
        else if (msg.t === "ready") {
          worker.off("message", early);
          host = new ServiceHost(worker, msg.service, deps, artifact);
          host.attach();
          resolve(host);
        } else if (msg.t === "load_failed") {
          worker.off("message", early);
          void worker.terminate();
          reject(new Error(msg.message));
        }
      };
      worker.on("message", early);
      worker.once("error", (err) => {
        if (!host) reject(new Error(`service thread failed: ${err.message}`));
      });
      worker.once("exit", (code) => {
        if (!host) reject(new Error(`service thread exited (code ${code}) before the service was ready`));
      });
    });
  }

  get inflight(): number {
    return this.calls.size;
  }

  onExit(listener: (reason: string) => void): void {
    this.exitListeners.add(listener);
  }

  /** Lets calls in flight finish (bounded), runs cleanup() in the thread (bounded), terminates it. */
  stop(graceMs = 10_000): Promise<void> {
    this.stopping ??= (async () => {
      this.service.status = "stopped";
      const deadline = this.deps.clock.now() + graceMs;
      while (this.calls.size > 0 && this.deps.clock.now() < deadline && !this.exited) await sleep(this.deps.clock, 20);
      if (!this.exited) {
        const stopped = new Promise<void>((resolve) => {
          const onMessage = (msg: FromHost) => msg.t === "stopped" && resolve();
          this.worker.on("message", onMessage);
          this.worker.once("exit", () => resolve());
        });
        this.send({ t: "stop" });
        await Promise.race([stopped, sleep(this.deps.clock, graceMs)]);
      }
      await this.worker.terminate();
    })();
    return this.stopping;
  }

  private invoke(method: string, params: Record<string, unknown>): Promise<unknown> {
    if (this.exited) return Promise.reject(new P2PError("UNAVAILABLE", `service "${this.service.name}" is not running`));
    const id = this.nextId++;
    const ctx = currentCall.getStore();
    return new Promise((resolve, reject) => {
      this.calls.set(id, { resolve, reject, ctx });
      const call: CallInfo | undefined = ctx ? { deadline: Math.round(Date.now() + (ctx.deadline - this.deps.clock.now())), caller: ctx.caller, traceId: ctx.traceId } : undefined;
      this.send({ t: "call", id, method, params, ...(call ? { call } : {}) });
      ctx?.cancel?.onCancel(() => this.send({ t: "cancel", id }));
    });
  }

  private send(msg: ToHost): void {
    if (!this.exited) this.worker.postMessage(msg);
  }

  private attach(): void {
    this.unsubscribe = this.deps.onClusterChange(() => this.send({ t: "cluster", snapshot: snapshot(this.deps.context) }));
    this.worker.on("message", (msg: FromHost) => this.onMessage(msg));
    this.worker.on("error", (err) => this.deps.logger.error({ service: this.service.name, err: err.message }, "service thread error"));
    this.worker.once("exit", (code) => {
      this.exited = true;
      this.unsubscribe();
      this.service.status = "stopped";
      for (const call of this.calls.values()) call.reject(new P2PError("UNAVAILABLE", `service "${this.service.name}" stopped`));
      this.calls.clear();
      for (const l of this.exitListeners) l(`service thread exited (code ${code})`);
    });
  }

  private onMessage(msg: FromHost): void {
    switch (msg.t) {
      case "result": {
        const call = this.calls.get(msg.id);
        this.calls.delete(msg.id);
        if (msg.ok) call?.resolve(msg.value);
        else call?.reject(P2PError.fromWire(msg.error));
        return;
      }
      case "log":
        return forwardLog(this.deps.logger, msg);
      case "proxy":
        return void this.answer(msg.id, () => this.inCall(msg.parent, () => this.deps.context.proxyFor(msg.service, msg.options)[msg.method]!(msg.params)));
      case "broadcast":
        return void this.answer(msg.id, () => this.inCall(msg.parent, () => this.deps.context.broadcast(msg.service, msg.method, msg.params)));
      case "cache":
        return void this.answer(msg.id, () => cacheOp(this.deps.context.cache, msg.op, msg.args));
      default:
        return;
    }
  }

  /** Runs a nested call in the context of the method call it came from (deadline, caller, trace). */
  private inCall<T>(parent: number | undefined, run: () => Promise<T>): Promise<T> {
    const ctx = parent !== undefined ? this.calls.get(parent)?.ctx : undefined;
    return ctx ? currentCall.run(ctx, run) : run();
  }

  private async answer(id: number, work: () => Promise<unknown>): Promise<void> {
    try {
      this.send({ t: "reply", id, ok: true, value: await work() });
    } catch (err) {
      const error = err instanceof P2PError ? err : new P2PError("INTERNAL", err instanceof Error ? err.message : String(err));
      this.send({ t: "reply", id, ok: false, error: error.toJSON() });
    }
  }
}

function cacheOp(cache: ServiceCacheApi, op: string, args: unknown[]): Promise<unknown> {
  if (op === "get") return cache.get(String(args[0]));
  if (op === "set") return cache.set(String(args[0]), args[1], args[2] as { ttl_s: number });
  if (op === "del") return cache.del(String(args[0]));
  return cache.invalidate(args[0] as Parameters<ServiceCacheApi["invalidate"]>[0]);
}

function snapshot(context: ServiceContext): ClusterSnapshot {
  return { self: context.cluster.self, nodes: context.cluster.nodes().map((n) => ({ ...n, services: [...n.services] })), leader: context.cluster.leader() };
}

function forwardLog(logger: Logger, msg: Extract<FromHost, { t: "log" }>): void {
  logger[msg.level](msg.obj, msg.msg);
}

function sleep(clock: Clock, ms: number): Promise<void> {
  return new Promise((resolve) => clock.setTimeout(resolve, ms));
}
