/**
 * `p2p check`: type-checks every TypeScript file of a services folder against p2p-core's
 * types, with the settings the loader compiles with (ESM, bundler-style resolution, standard
 * decorators), whatever each folder's package.json says. TypeScript comes from the user's
 * project, else from the framework's own install; it is loaded only when a check runs.
 */
import { existsSync, readdirSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { join, relative, resolve, sep } from "node:path";
import { resolveCore } from "./compile.js";

type TS = typeof import("typescript");

export interface TypeError {
  /** The service folder the file belongs to (its first path segment under the services dir). */
  service: string;
  /** `path(line,col): error TSnnnn: message`, the path relative to the current directory. */
  text: string;
}

export interface CheckResult {
  files: number;
  errors: TypeError[];
}

export class TypeScriptMissing extends Error {}

function loadTypeScript(from: string): TS {
  for (const base of [join(resolve(from), "__p2p_resolve__.js"), import.meta.url]) {
    try {
      return createRequire(base)("typescript") as TS;
    } catch {
      // next place
    }
  }
  throw new TypeScriptMissing("p2p check needs TypeScript: npm install --save-dev typescript");
}

/** Every .ts/.mts/.tsx file under dir, node_modules and hidden entries left out. */
function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    if (name === "node_modules" || name.startsWith(".")) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...sourceFiles(path));
    else if (/\.(m?ts|tsx)$/.test(name) && !name.endsWith(".d.ts")) out.push(path);
  }
  return out;
}

export function typecheckServices(servicesDir: string): CheckResult {
  const root = resolve(servicesDir);
  if (!existsSync(root)) throw new Error(`services folder ${root} does not exist`);
  const ts = loadTypeScript(root);
  const base = projectOptions(ts, root);
  const core = (specifier: string) => resolveCore(specifier, root).replace(/\.js$/, ".d.ts");
  const options: import("typescript").CompilerOptions = {
    ...base,
    noEmit: true,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    experimentalDecorators: false,
    allowImportingTsExtensions: true,
    // The same copy of p2p-core the loader gives the services.
    paths: { ...base.paths, "p2p-core": [core("p2p-core")], "p2p-core/testing": [core("p2p-core/testing")] },
  };
  const files = sourceFiles(root);
  const program = ts.createProgram(files, options);
  const errors: TypeError[] = [];
  for (const d of ts.getPreEmitDiagnostics(program)) {
    if (d.category !== ts.DiagnosticCategory.Error) continue;
    const message = ts.flattenDiagnosticMessageText(d.messageText, "\n");
    if (!d.file || d.start === undefined) {
      errors.push({ service: "", text: `error TS${d.code}: ${message}` });
      continue;
    }
    const { line, character } = d.file.getLineAndCharacterOfPosition(d.start);
    const rel = relative(root, d.file.fileName);
    const service = rel.startsWith("..") ? "" : rel.split(sep)[0]!;
    errors.push({ service, text: `${relative(process.cwd(), d.file.fileName)}(${line + 1},${character + 1}): error TS${d.code}: ${message}` });
  }
  return { files: files.length, errors };
}

/** Options of the project's tsconfig.json (nearest above the services folder), else strict defaults. */
function projectOptions(ts: TS, root: string): import("typescript").CompilerOptions {
  const defaults = { target: ts.ScriptTarget.ES2022, lib: ["lib.es2023.d.ts"], strict: true, esModuleInterop: true, skipLibCheck: true };
  const configPath = ts.findConfigFile(root, ts.sys.fileExists);
  if (!configPath) return defaults;
  const parsed = ts.getParsedCommandLineOfConfigFile(configPath, {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => undefined });
  return parsed ? { ...defaults, ...parsed.options } : defaults;
}
