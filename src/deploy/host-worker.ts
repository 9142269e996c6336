/**
 * Entry of a service's worker thread. The service is loaded here with the node's own loader;
 * everything it asks of the node (logging, cache, calls to other services) crosses to the
 * main thread as messages. Terminating the thread frees the service's modules and heap.
 */
import { parentPort, workerData } from "node:worker_threads";
import { AsyncLocalStorage } from "node:async_hooks";
import { loadServiceFile } from "../services/loader.js";
import type { ServiceContext, ServiceLogger } from "../services/base-service.js";
import type { LocalService } from "../services/local-services.js";
import type { ServiceCacheApi } from "../services/service-cache-api.js";
import type { CallOptions, ClusterProxy, RemoteMethod } from "../services/proxy-types.js";
import { P2PError, toP2PError } from "../errors.js";
import type { CallInfo, ClusterSnapshot, FromHost, HostInit, ToHost } from "./host-protocol.js";
import { snapshotView, ThreadCall } from "./host-call.js";

const port = parentPort!;
const init = workerData as HostInit;
/** The node-side call a method runs for, so nested calls inherit its deadline (and `this.call` works). */
const currentCall = new AsyncLocalStorage<{ id: number; call: ThreadCall | undefined }>();
const running = new Map<number, ThreadCall>();
let cluster: ClusterSnapshot = init.cluster;
const pending = new Map<number, { resolve(v: unknown): void; reject(e: unknown): void }>();
let nextId = 1;
let service: LocalService | null = null;

const post = (msg: FromHost) => port.postMessage(msg);

type Ask = Extract<FromHost, { t: "proxy" | "cache" | "broadcast" }>;
function ask(msg: Ask extends infer M ? (M extends Ask ? Omit<M, "id"> : never) : never): Promise<unknown> {
  const id = nextId++;
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject });
    post({ ...msg, id } as FromHost);
  });
}

const log = (level: "debug" | "info" | "warn" | "error") => (obj: object | string, msg?: string) =>
  typeof obj === "string" ? post({ t: "log", level, obj: {}, msg: obj }) : post({ t: "log", level, obj: plain(obj), ...(msg !== undefined ? { msg } : {}) });
const logger: ServiceLogger = { debug: log("debug"), info: log("info"), warn: log("warn"), error: log("error") };

/** Log fields that survive the crossing (errors become their message). */
function plain(obj: object): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) out[k] = v instanceof Error ? { message: v.message } : typeof v === "function" ? undefined : v;
  return out;
}

const cache: ServiceCacheApi = {
  get: (key) => ask({ t: "cache", op: "get", args: [key] }) as never,
  set: async (key, value, options) => void (await ask({ t: "cache", op: "set", args: [key, value, options] })),
  del: async (key) => void (await ask({ t: "cache", op: "del", args: [key] })),
  invalidate: (selector) => ask({ t: "cache", op: "invalidate", args: [selector] }) as Promise<number>,
};

function parentId(): { parent?: number } {
  const parent = currentCall.getStore()?.id;
  return parent !== undefined ? { parent } : {};
}

function methodOf(serviceName: string, method: string, bound?: CallOptions): RemoteMethod {
  return ((params = {}, options = {}) => ask({ t: "proxy", service: serviceName, method, params, options: { ...bound, ...options }, ...parentId() })) as RemoteMethod;
}
const proxyFor = (serviceName: string, bound?: CallOptions): Record<string, RemoteMethod> =>
  new Proxy({} as Record<string, RemoteMethod>, { get: (_t, m) => (typeof m === "string" && m !== "then" ? methodOf(serviceName, m, bound) : undefined) });
const proxy = new Proxy({} as ClusterProxy, { get: (_t, s) => (typeof s === "string" && s !== "then" ? proxyFor(s) : undefined) });

async function call(id: number, method: string, params: Record<string, unknown>, info: CallInfo | undefined): Promise<void> {
  const scope = info ? new ThreadCall(info) : undefined;
  if (scope) running.set(id, scope);
  try {
    const m = service?.methods.get(method);
    if (!m) throw new P2PError("METHOD_NOT_FOUND", `method "${method}" not found in service "${init.name}"`);
    const value = await currentCall.run({ id, call: scope }, () => m.invoke(params));
    try {
      post({ t: "result", id, ok: true, value });
    } catch {
      post({ t: "result", id, ok: false, error: { code: "INTERNAL", message: `${init.name}.${method} returned a value that is not serialisable` } });
    }
  } catch (err) {
    post({ t: "result", id, ok: false, error: toP2PError(err).toJSON() });
  } finally {
    running.delete(id);
    scope?.abort("call ended");
  }
}

async function stop(): Promise<void> {
  if (service) {
    const work = service.instance.cleanup();
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise((resolve) => (timer = setTimeout(resolve, init.lifecycleTimeoutMs)));
    await Promise.race([work.catch((err: unknown) => logger.error({ err }, "cleanup failed")), bound]);
    clearTimeout(timer);
  }
  post({ t: "stopped" });
}

port.on("message", (msg: ToHost) => {
  if (msg.t === "call") void call(msg.id, msg.method, msg.params, msg.call);
  else if (msg.t === "cancel") running.get(msg.id)?.abort("caller went away");
  else if (msg.t === "cluster") cluster = msg.snapshot;
  else if (msg.t === "reply") {
    const waiter = pending.get(msg.id);
    pending.delete(msg.id);
    if (msg.ok) waiter?.resolve(msg.value);
    else waiter?.reject(P2PError.fromWire(msg.error));
  } else if (msg.t === "stop") void stop();
});

try {
  service = await loadServiceFile(init.name, init.file, {
    logger,
    lifecycleTimeoutMs: init.lifecycleTimeoutMs,
    ...(init.fixedName ? { name: init.name } : {}),
    contextFor: (info): ServiceContext => ({
      nodeId: init.nodeId,
      logger,
      cache,
      info,
      proxy,
      proxyFor,
      currentCall: () => currentCall.getStore()?.call,
      broadcast: (target, method, params = {}) => ask({ t: "broadcast", service: target, method, params, ...parentId() }) as never,
      cluster: snapshotView(() => cluster),
      phase: "initializing",
    }),
  });
  // TypeScript entries were compiled by esbuild; its helper process must not outlive this thread.
  if (/\.m?ts$/.test(init.file)) await import("esbuild").then((e) => e.stop()).catch(() => undefined);
  if (service.name !== init.name) {
    await service.instance.cleanup().catch(() => undefined);
    throw new Error(`the code declares service "${service.name}", not "${init.name}" (a running service cannot be renamed)`);
  }
  const { name, version, description, balancer } = service;
  post({ t: "ready", service: { name, version, description, ...(balancer ? { balancer } : {}), methods: [...service.methods.values()].map((m) => m.descriptor) } });
} catch (err) {
  post({ t: "load_failed", message: err instanceof Error ? err.message : String(err) });
}
