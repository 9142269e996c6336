import { readdir, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import { BaseService, constructService, isServiceClass, type ServiceContext, type ServiceInfo, type ServiceLogger } from "./base-service.js";
import { importService, type CompileOptions } from "./compile.js";
import { readMethodOptions, type MethodDescriptor } from "./method-options.js";
import { compileParamsSchema } from "./schema.js";
import { systemClock, type Clock } from "../util/clock.js";
import { withTimeout as raceTimeout } from "../util/with-timeout.js";
import type { LocalMethod, LocalService } from "./local-services.js";

const ENTRY_FILES = ["main.ts", "main.mts", "main.js", "main.mjs"];
const SERVICE_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;
const METHOD_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

export interface LoadOptions extends CompileOptions {
  logger: ServiceLogger;
  lifecycleTimeoutMs: number;
  contextFor(info: ServiceInfo): ServiceContext;
  /** Run under this name instead of the class's SERVICE_NAME or the folder's name. */
  name?: string;
}

type ServiceClass = (new () => BaseService) & { SERVICE_NAME?: string; VERSION?: string; DESCRIPTION?: string; BALANCER?: string };
const BALANCERS = ["round-robin", "random", "least-latency"] as const;

/** Finds `<dir>/<name>/main.{ts,js}` folders; TypeScript is compiled at load time (no build step). */
export async function discoverServiceEntries(dir: string): Promise<{ folder: string; file: string }[]> {
  const root = resolve(dir);
  let names: string[];
  try {
    names = (await readdir(root)).sort();
  } catch {
    return [];
  }
  const entries: { folder: string; file: string }[] = [];
  for (const folder of names) {
    const file = await entryFileOf(join(root, folder));
    if (file) entries.push({ folder, file });
  }
  return entries;
}

/** The entry file of one service folder (main.ts, main.mts, main.js, main.mjs — first found), or null. */
export async function entryFileOf(folderPath: string): Promise<string | null> {
  for (const candidate of ENTRY_FILES) {
    const file = join(folderPath, candidate);
    if (await isFile(file)) return file;
  }
  return null;
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/**
 * The service class of a module: its default export, else its one exported service class.
 * Both `export default class` and `export class Run` are accepted.
 */
export function findServiceClass(mod: Record<string, unknown>, file: string): ServiceClass {
  if (isServiceClass(mod.default)) return mod.default as ServiceClass;
  const named = Object.entries(mod).filter(([, value]) => isServiceClass(value));
  if (named.length === 0) throw new Error(`${file} exports no class extending BaseService (use \`export default class ... extends BaseService\`)`);
  if (named.length > 1) {
    throw new Error(`${file} exports several service classes (${named.map(([k]) => k).join(", ")}): mark the one to run with \`export default\``);
  }
  return named[0]![1] as ServiceClass;
}

/** Loads one service folder; throws with a clear message when it cannot be used. */
export async function loadServiceFile(folder: string, file: string, options: LoadOptions): Promise<LocalService> {
  const mod = await importService(file, options);
  return instantiate(findServiceClass(mod, file), folder, options);
}

/** Builds, validates and initialises a service from its class. */
export async function instantiate(cls: ServiceClass, defaultName: string, options: LoadOptions): Promise<LocalService> {
  const name = options.name ?? cls.SERVICE_NAME ?? defaultName;
  if (!SERVICE_NAME.test(name)) throw new Error(`service name "${name}" must match ${SERVICE_NAME}`);
  const info: ServiceInfo = { name, version: cls.VERSION ?? "1.0.0", description: cls.DESCRIPTION ?? "" };
  const balancer = BALANCERS.find((b) => b === cls.BALANCER);
  if (cls.BALANCER !== undefined && !balancer) throw new Error(`service "${name}": BALANCER must be one of ${BALANCERS.join(", ")}`);
  const context = options.contextFor(info);
  const instance = constructService(cls, context);
  const methods = collectMethods(instance);
  if (methods.size === 0) throw new Error(`service "${name}" has no @serviceMethod methods`);
  await withTimeout(instance.initialize(), options.lifecycleTimeoutMs, `initialize() of "${name}"`);
  context.phase = "running";
  return { ...info, ...(balancer ? { balancer } : {}), instance, methods, status: "running" };
}

function collectMethods(instance: BaseService): Map<string, LocalMethod> {
  const methods = new Map<string, LocalMethod>();
  for (let proto = Object.getPrototypeOf(instance); proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
    for (const key of Object.getOwnPropertyNames(proto)) {
      if (key === "constructor" || methods.has(key)) continue;
      const fn: unknown = Object.getOwnPropertyDescriptor(proto, key)?.value;
      const options = readMethodOptions(fn);
      if (!options || typeof fn !== "function") continue;
      if (!METHOD_NAME.test(key)) throw new Error(`method name "${key}" must match ${METHOD_NAME}`);
      if (key in BaseService.prototype) throw new Error(`method "${key}" cannot be a @serviceMethod: the name belongs to BaseService (lifecycle or framework member)`);
      const descriptor: MethodDescriptor = { ...options, name: key };
      checkOptions(descriptor);
      methods.set(key, {
        descriptor,
        invoke: (fn as (p: Record<string, unknown>) => unknown).bind(instance),
        validate: descriptor.params ? compileParamsSchema(descriptor.params) : null,
      });
    }
  }
  return methods;
}

function checkOptions(d: MethodDescriptor): void {
  if (d.cache !== undefined && !(typeof d.cache.ttl_s === "number" && d.cache.ttl_s > 0)) {
    throw new Error(`method "${d.name}": cache.ttl_s must be a positive number`);
  }
  if (d.timeout_ms !== undefined && !(Number.isInteger(d.timeout_ms) && d.timeout_ms > 0)) {
    throw new Error(`method "${d.name}": timeout_ms must be a positive integer`);
  }
  if (d.params !== undefined && (typeof d.params !== "object" || d.params === null)) {
    throw new Error(`method "${d.name}": params must be a JSON schema object`);
  }
}

/** A lifecycle step (initialize, cleanup) bounded by `ms`: the one race helper, with a message naming it. */
export function withTimeout<T>(work: Promise<T>, ms: number, what: string, clock: Clock = systemClock): Promise<T> {
  return raceTimeout(work, ms, clock, () => new Error(`${what} did not finish within ${ms} ms`));
}
