/**
 * Compiles and imports one service entry file (main.ts / main.js), whatever its folder's
 * package.json or tsconfig.json say:
 * - the entry and its relative imports are bundled in-process by esbuild, always as ESM with
 *   standard decorators (a folder's `"type": "commonjs"` or `experimentalDecorators` cannot
 *   change how it, or any other service, is compiled);
 * - `p2p-core` (and `p2p-core/...`) resolves from the user's project — the services folder
 *   and its ancestors — else from the running framework, never from a copy in the service's
 *   own folder;
 * - any other package stays an import resolved from the service's folder upward, so its own
 *   node_modules and then the project's are used.
 * The bundle is written beside the entry (so those imports resolve as they would from the
 * source), imported, and removed. No loader hook stays installed.
 */
import { unlink, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { basename, dirname, join, resolve } from "node:path";
import { randomUUID } from "node:crypto";
import { pathToFileURL } from "node:url";
import type { Plugin } from "esbuild";

type Esbuild = typeof import("esbuild");
/**
 * esbuild, loaded as CommonJS on first use so that `releaseCompiler()` can drop it from the
 * module cache afterwards: an ES module import would keep its code in memory for the life of
 * the node, which needs it only while loading services at start.
 */
let esbuild: Esbuild | null = null;

function compiler(): Esbuild {
  // A require function of its own (not kept): the module it loads is listed as its child.
  esbuild ??= createRequire(import.meta.url)("esbuild") as Esbuild;
  return esbuild;
}

const CORE_SPECIFIER = /^p2p-core(\/.*)?$/;

export interface CompileOptions {
  /** Where `p2p-core` is looked up first: default, the folder holding the service's folder. */
  resolveFrom?: string;
}

/** Absolute path of `specifier` (p2p-core or a subpath) as the project at `from` sees it, else the framework's own. */
export function resolveCore(specifier: string, from: string): string {
  try {
    return createRequire(join(resolve(from), "__p2p_resolve__.js")).resolve(specifier);
  } catch {
    // The package resolves its own name (package.json "exports"): the running framework.
    return createRequire(import.meta.url).resolve(specifier);
  }
}

function corePlugin(from: string): Plugin {
  return {
    name: "p2p-core-resolution",
    setup(build) {
      build.onResolve({ filter: CORE_SPECIFIER }, (args) => ({ path: pathToFileURL(resolveCore(args.path, from)).href, external: true }));
    },
  };
}

/** The entry bundled as one ESM module text (inline source map). */
export async function compileService(file: string, options: CompileOptions = {}): Promise<Uint8Array> {
  const { build } = compiler();
  const from = options.resolveFrom ?? dirname(dirname(resolve(file)));
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
    plugins: [corePlugin(from)],
    // Fixed settings instead of the folder's tsconfig.json: every service compiles the same way.
    tsconfigRaw: { compilerOptions: { experimentalDecorators: false, useDefineForClassFields: true, verbatimModuleSyntax: false } },
  });
  return out.outputFiles[0]!.contents;
}

/** Compiles and imports a service entry file; its exports. */
export async function importService(file: string, options: CompileOptions = {}): Promise<Record<string, unknown>> {
  const code = await compileService(file, options);
  const compiled = join(dirname(file), `.${basename(file)}.${randomUUID().slice(0, 8)}.p2p.mjs`);
  await writeFile(compiled, code);
  try {
    return (await import(pathToFileURL(compiled).href)) as Record<string, unknown>;
  } finally {
    await unlink(compiled).catch(() => undefined);
  }
}

/** Stops esbuild's helper process and forgets its module once every service is loaded (it is only needed at start). */
export async function releaseCompiler(): Promise<void> {
  const loaded = esbuild;
  if (!loaded) return;
  esbuild = null;
  await loaded.stop();
  const require = createRequire(import.meta.url);
  delete require.cache[require.resolve("esbuild")];
}
