/**
 * `--watch`: reloads a service of the services dir when its files change (development).
 *
 * Changes are debounced per folder. The new version is loaded in its own isolated host (a
 * worker thread) and must finish initialize() before it replaces the running one in the
 * registry, atomically for new calls; the replaced version finishes its calls in flight,
 * then runs cleanup() (a hosted one is terminated with its thread, which frees its modules).
 * A broken edit — a syntax error, a throwing initialize() — leaves the running version alone:
 * the error is logged and published as a `service` event with status `reload_failed`.
 */
import { readdirSync, statSync, watch as fsWatch, type FSWatcher } from "node:fs";
import { join, relative, sep } from "node:path";
import type { Logger } from "../log.js";
import type { Clock, Timer } from "../util/clock.js";
import type { LocalService, LocalServices } from "./local-services.js";
import type { ServiceFolder } from "./bootstrap.js";
import { entryFileOf, withTimeout } from "./loader.js";

/** Quiet time after the last change of a folder before it is reloaded (editors write in bursts). */
export const RELOAD_DEBOUNCE_MS = 250;
/** How often a replaced static version is checked for calls still in flight. */
const DRAIN_POLL_MS = 20;

/** A service loaded in its own host: stopping it lets its calls finish, runs cleanup() and frees it. */
export interface ReloadedHost {
  readonly service: LocalService;
  stop(): Promise<void>;
  onExit(listener: (reason: string) => void): void;
}

/** Watches a folder tree; `onChange` gets the changed path relative to it. */
export type WatchTree = (dir: string, onChange: (relativePath: string) => void, onError: (err: Error) => void) => { close(): void };

export interface HotReloadDeps {
  nodeId: string;
  servicesDir: string;
  local: LocalServices;
  /** What each folder gave at start. */
  folders: ServiceFolder[];
  /** Loads and initialises a service in its own host; rejects with the reason it could not. */
  startHost(spec: { name: string; folder: string; file: string }): Promise<ReloadedHost>;
  /** Re-gossips this node's services. */
  announce(): void;
  publish(type: string, data: unknown): void;
  logger: Logger;
  clock: Clock;
  lifecycleTimeoutMs: number;
  /** How long a replaced version may finish its calls in flight. */
  graceMs: number;
  debounceMs?: number;
  watch?: WatchTree;
}

interface FolderState {
  /** The service this folder runs (undefined: it never loaded). */
  name: string | undefined;
  /** The host of the reloaded version (null: the version loaded at start, or none). */
  host: ReloadedHost | null;
  /** Calls in flight on the version loaded at start (counted only while it runs). */
  staticCalls: { n: number } | null;
  timer: Timer | null;
  reloading: boolean;
  again: boolean;
}

/**
 * One watcher per folder of the tree (new folders are added as they appear). Not
 * `fs.watch(dir, {recursive: true})`: on Linux, Node 20 loses a file once it is replaced by a
 * rename — what `sed -i` and editors' atomic saves do — and reports none of its later edits.
 * A folder's own watch sees its entries created, replaced and changed, whatever their inode.
 */
export const watchTree: WatchTree = (root, onChange, onError) => {
  const watchers = new Map<string, FSWatcher>();
  const isDir = (path: string) => {
    try {
      return statSync(path).isDirectory();
    } catch {
      return false;
    }
  };
  const drop = (dir: string) => {
    for (const [path, w] of watchers) {
      if (path === dir || path.startsWith(dir + sep)) {
        w.close();
        watchers.delete(path);
      }
    }
  };
  /** `fresh`: a folder that appeared while watching — files already in it count as changes (a copy lands before its watch). */
  const add = (dir: string, fresh: boolean) => {
    if (watchers.has(dir)) return;
    const watcher = fsWatch(dir, (event, filename) => {
      if (!filename) return;
      const path = join(dir, filename.toString());
      const rel = relative(root, path);
      if (event === "rename" && !ignored(rel)) {
        if (isDir(path)) watchFolder(path, true);
        else if (watchers.has(path)) drop(path);
      }
      onChange(rel);
    });
    watcher.on("error", (err) => {
      drop(dir);
      if (dir === root) onError(err);
    });
    watchers.set(dir, watcher);
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory() && !ignored(entry.name)) watchFolder(join(dir, entry.name), fresh);
      else if (fresh && entry.isFile()) onChange(relative(root, join(dir, entry.name)));
    }
  };
  const watchFolder = (dir: string, fresh: boolean) => {
    try {
      add(dir, fresh);
    } catch {
      drop(dir); // gone again already
    }
  };
  add(root, false);
  return { close: () => drop(root) };
};

/** Hidden files (editor swap files, the compiler's own temporary bundles), backups and dependencies never trigger a reload. */
function ignored(relativePath: string): boolean {
  return relativePath.split(sep).some((part) => part.startsWith(".") || part.endsWith("~") || part === "node_modules");
}

export class HotReloader {
  private readonly folders = new Map<string, FolderState>();
  private watcher: { close(): void } | null = null;
  private stopped = false;

  constructor(private readonly deps: HotReloadDeps) {
    for (const f of deps.folders) {
      const running = f.name !== undefined ? deps.local.get(f.name) : undefined;
      this.folders.set(f.folder, { name: f.name, host: null, staticCalls: running ? countCalls(running) : null, timer: null, reloading: false, again: false });
    }
  }

  start(): void {
    const { servicesDir, logger } = this.deps;
    try {
      this.watcher = (this.deps.watch ?? watchTree)(servicesDir, (path) => this.changed(path), (err) => logger.warn({ err: err.message, dir: servicesDir }, "--watch: watching the services dir failed"));
      logger.info({ dir: servicesDir }, "--watch: services reload when their files change");
    } catch (err) {
      logger.warn({ err: err instanceof Error ? err.message : String(err), dir: servicesDir }, "--watch: cannot watch the services dir");
    }
  }

  /** Stops watching. Reloaded services stay in the registry (the node's shutdown cleans them up). */
  stop(): void {
    this.stopped = true;
    this.watcher?.close();
    this.watcher = null;
    for (const state of this.folders.values()) state.timer?.cancel();
  }

  private changed(relativePath: string): void {
    if (this.stopped || ignored(relativePath)) return;
    const folder = relativePath.split(sep)[0];
    if (!folder || folder === relativePath) return; // a file directly in the services dir is no service
    let state = this.folders.get(folder);
    if (!state) this.folders.set(folder, (state = { name: undefined, host: null, staticCalls: null, timer: null, reloading: false, again: false }));
    state.timer?.cancel();
    state.timer = this.deps.clock.setTimeout(() => {
      state.timer = null;
      void this.reload(folder, state);
    }, this.deps.debounceMs ?? RELOAD_DEBOUNCE_MS);
  }

  /** One reload at a time per folder; a change during a reload runs one more. */
  private async reload(folder: string, state: FolderState): Promise<void> {
    if (this.stopped) return;
    if (state.reloading) {
      state.again = true;
      return;
    }
    state.reloading = true;
    try {
      await this.reloadOnce(folder, state);
    } catch (err) {
      this.deps.logger.error({ folder, err: err instanceof Error ? err.message : String(err) }, "--watch: reload failed");
    } finally {
      state.reloading = false;
      if (state.again) {
        state.again = false;
        void this.reload(folder, state);
      }
    }
  }

  private async reloadOnce(folder: string, state: FolderState): Promise<void> {
    const { local, logger, nodeId } = this.deps;
    const dir = join(this.deps.servicesDir, folder);
    const name = state.name ?? folder;
    const current = local.get(name);
    if (current?.artifact) {
      logger.error({ folder, service: name }, "--watch: a deployed service of that name runs here; the folder is not loaded");
      return;
    }
    const file = await entryFileOf(dir);
    if (!file) {
      if (!current) return;
      local.remove(name, current);
      this.deps.announce();
      logger.warn({ folder, service: name }, "--watch: service folder has no entry file any more; service stopped");
      this.deps.publish("service", { node_id: nodeId, service: name, status: "stopped" });
      await this.retire(state, current);
      state.host = null;
      return;
    }
    logger.info({ folder, service: name }, "--watch: files changed, reloading");
    let host: ReloadedHost;
    try {
      host = await this.deps.startHost({ name, folder: dir, file });
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      logger.error({ folder, service: name, err: error, kept: current ? current.version : null }, "--watch: reload failed; the running version keeps serving");
      this.deps.publish("service", { node_id: nodeId, service: name, status: "reload_failed", error: error.slice(0, 500) });
      return;
    }
    if (this.stopped) {
      await host.stop();
      return;
    }
    const previousHost = state.host;
    local.replace(host.service);
    local.clearFailure(name);
    local.clearFailure(folder);
    state.name = name;
    state.host = host;
    host.onExit((reason) => this.lost(state, host, reason));
    this.deps.announce();
    logger.info({ folder, service: name, version: host.service.version, methods: [...host.service.methods.keys()] }, "--watch: service reloaded");
    this.deps.publish("service", { node_id: nodeId, service: name, status: "reloaded", version: host.service.version });
    if (current) await this.retire({ ...state, host: previousHost }, current);
  }

  /** The replaced version finishes its calls in flight (bounded), then cleans up. */
  private async retire(state: Pick<FolderState, "host" | "staticCalls">, previous: LocalService): Promise<void> {
    if (state.host && state.host.service === previous) {
      await state.host.stop();
      return;
    }
    const calls = state.staticCalls;
    const deadline = this.deps.clock.now() + this.deps.graceMs;
    while (calls && calls.n > 0 && this.deps.clock.now() < deadline) await sleep(this.deps.clock, DRAIN_POLL_MS);
    previous.status = "stopped";
    try {
      await withTimeout(previous.instance.cleanup(), this.deps.lifecycleTimeoutMs, `cleanup() of "${previous.name}"`);
    } catch (err) {
      this.deps.logger.error({ service: previous.name, err: err instanceof Error ? err.message : String(err) }, "cleanup of the replaced version failed");
    }
  }

  private lost(state: FolderState, host: ReloadedHost, reason: string): void {
    if (state.host !== host || this.stopped) return;
    state.host = null;
    this.deps.local.remove(host.service.name, host.service);
    this.deps.local.recordFailure(host.service.name, reason);
    this.deps.announce();
    this.deps.logger.error({ service: host.service.name, reason }, "--watch: reloaded service stopped unexpectedly");
    this.deps.publish("service", { node_id: this.deps.nodeId, service: host.service.name, status: "failed", error: reason });
  }
}

/** Counts the calls in flight on a service loaded in the node's own thread (so its replacement can wait for them). */
function countCalls(service: LocalService): { n: number } {
  const calls = { n: 0 };
  for (const [name, method] of service.methods) {
    const invoke = method.invoke;
    service.methods.set(name, {
      ...method,
      invoke: async (params) => {
        calls.n += 1;
        try {
          return await invoke(params);
        } finally {
          calls.n -= 1;
        }
      },
    });
  }
  return calls;
}

function sleep(clock: Clock, ms: number): Promise<void> {
  return new Promise((resolve) => clock.setTimeout(resolve, ms));
}
