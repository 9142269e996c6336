/** `p2p new`: writes an application or a service folder from templates, never over existing files. */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { appFiles } from "./app-template.js";
import { basicService } from "./basic-template.js";
import { postgresService } from "./postgres-template.js";
import { serviceNames } from "./names.js";

export const TEMPLATES = ["basic", "postgres"] as const;
export type Template = (typeof TEMPLATES)[number];

/** Packages a template needs in the project's package.json. */
const TEMPLATE_PACKAGES: Record<Template, { dependencies?: Record<string, string>; devDependencies?: Record<string, string> }> = {
  basic: {},
  postgres: { dependencies: { pg: "^8.16.0" }, devDependencies: { "@types/pg": "^8.15.0" } },
};

export interface Written {
  root: string;
  files: string[];
  /** package.json changed: the user should run npm install. */
  packagesAdded: string[];
}

export function newService(name: string, template: Template, servicesDir: string): Written {
  const names = serviceNames(name);
  const folder = resolve(servicesDir, names.service);
  if (existsSync(folder)) throw new Error(`${folder} already exists`);
  const files = template === "postgres" ? postgresService(names) : basicService(names);
  const written = writeAll(folder, files);
  const packagesAdded = addPackages(findPackageJson(resolve(servicesDir)), TEMPLATE_PACKAGES[template]);
  return { root: folder, files: written, packagesAdded };
}

export function newApp(dir: string): Written {
  const root = resolve(dir);
  if (existsSync(root) && readdirSync(root).length > 0) throw new Error(`${root} exists and is not empty`);
  const name = basename(root).toLowerCase().replace(/[^a-z0-9._-]+/g, "-").replace(/^[._-]+/, "") || "p2p-app";
  const files = writeAll(root, appFiles(name));
  const service = newService("hello", "basic", join(root, "services"));
  return { root, files: [...files, ...service.files.map((f) => join("services", "hello", f))], packagesAdded: [] };
}

function writeAll(root: string, files: Record<string, string>): string[] {
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text, { flag: "wx" });
  }
  return Object.keys(files);
}

/** The package.json of the project holding `dir` (the nearest one above it), if any. */
function findPackageJson(dir: string): string | undefined {
  for (let at = dir; ; at = dirname(at)) {
    const candidate = join(at, "package.json");
    if (existsSync(candidate)) return candidate;
    if (dirname(at) === at) return undefined;
  }
}

function addPackages(packageJson: string | undefined, wanted: (typeof TEMPLATE_PACKAGES)[Template]): string[] {
  if (!packageJson || (!wanted.dependencies && !wanted.devDependencies)) return [];
  const pkg = JSON.parse(readFileSync(packageJson, "utf8")) as Record<string, Record<string, string> | undefined>;
  const added: string[] = [];
  for (const field of ["dependencies", "devDependencies"] as const) {
    for (const [dep, range] of Object.entries(wanted[field] ?? {})) {
      if (pkg.dependencies?.[dep] || pkg.devDependencies?.[dep]) continue;
      pkg[field] = { ...pkg[field], [dep]: range };
      added.push(dep);
    }
  }
  if (added.length > 0) writeFileSync(packageJson, `${JSON.stringify(pkg, null, 2)}\n`);
  return added;
}
