import { readdir, stat, unlink, writeFile } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { randomUUID } from "node:crypto";
import { pathToFileURL } from "node:url";
import { attachContext, isServiceClass, type BaseService, type ServiceContext, type ServiceInfo, type ServiceLogger } from "./base-service.js";
import { readMethodOptions, type MethodDescriptor } from "./method-options.js";
import { compileParamsSchema } from "./schema.js";
import type { LocalMethod, LocalService } from "./local-services.js";

const ENTRY_FILES = ["main.ts", "main.mts", "main.js", "main.mjs"];
const SERVICE_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;
const METHOD_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

export interface LoadOptions {
  logger: ServiceLogger;
  lifecycleTimeoutMs: number;
  contextFor(info: ServiceInfo): ServiceContext;
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
    for (const candidate of ENTRY_FILES) {
      const file = join(root, folder, candidate);
      if (await isFile(file)) {
        entries.push({ folder, file });
        break;
      }
    }
  }
  return entries;
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/**
 * TypeScript services are bundled in-process by esbuild (their relative imports included,
 * packages left external), written beside the source so bare imports such as "p2p-core"
 * resolve exactly as they would from the source, imported, and the file removed.
 * No loader hooks stay installed: they would cost a worker thread (~25 MiB) for the node's life.
 */
async function importModule(file: string): Promise<Record<string, unknown>> {
  if (!(file.endsWith(".ts") || file.endsWith(".mts"))) return (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  const { build } = await import("esbuild");
  const out = await build({
    entryPoints: [file],
    bundle: true,
    packages: "external",
    platform: "node",
    format: "esm",
    target: "node20",
    write: false,
    sourcemap: "inline",
    logLevel: "silent",
  });
  const compiled = join(dirname(file), `.${basename(file)}.${randomUUID().slice(0, 8)}.p2p.mjs`);
  await writeFile(compiled, out.outputFiles[0]!.contents);
  try {
    return (await import(pathToFileURL(compiled).href)) as Record<string, unknown>;
  } finally {
    await unlink(compiled).catch(() => undefined);
  }
}

/** Stops esbuild's helper process once every service is loaded (it is only needed at start). */
export async function releaseCompiler(): Promise<void> {
  const { stop } = await import("esbuild");
  await stop();
}

function findServiceClass(mod: Record<string, unknown>): ServiceClass | undefined {
  if (isServiceClass(mod.default)) return mod.default as ServiceClass;
  for (const value of Object.values(mod)) if (isServiceClass(value)) return value as ServiceClass;
  return undefined;
}

/** Loads one service folder; throws with a clear message when it cannot be used. */
export async function loadServiceFile(folder: string, file: string, options: LoadOptions): Promise<LocalService> {
  const mod = await importModule(file);
  const cls = findServiceClass(mod);
  if (!cls) throw new Error(`${file} exports no class extending BaseService`);
  return instantiate(cls, folder, options);
}

/** Builds, validates and initialises a service from its class. */
export async function instantiate(cls: ServiceClass, defaultName: string, options: LoadOptions): Promise<LocalService> {
  const name = cls.SERVICE_NAME ?? defaultName;
  if (!SERVICE_NAME.test(name)) throw new Error(`service name "${name}" must match ${SERVICE_NAME}`);
  const info: ServiceInfo = { name, version: cls.VERSION ?? "1.0.0", description: cls.DESCRIPTION ?? "" };
  const balancer = BALANCERS.find((b) => b === cls.BALANCER);
  if (cls.BALANCER !== undefined && !balancer) throw new Error(`service "${name}": BALANCER must be one of ${BALANCERS.join(", ")}`);
  const instance = new cls();
  attachContext(instance, options.contextFor(info));
  const methods = collectMethods(instance);
  if (methods.size === 0) throw new Error(`service "${name}" has no @serviceMethod methods`);
  await withTimeout(instance.initialize(), options.lifecycleTimeoutMs, `initialize() of "${name}"`);
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

export function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
