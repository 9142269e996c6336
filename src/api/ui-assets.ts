import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, extname, join, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

/** The dashboard's folder in the package (beside src/ and dist/). */
export const UI_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "../../ui");

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".json": "application/json; charset=utf-8",
};

/**
 * The ES modules the page imports, served from the installed npm packages (no CDN, no copy in
 * the repo): /ui/vendor/<name> → <package>/<file>. Resolved from this module, so it works both
 * in the repo and when p2p-core is installed in another project (hoisted or not).
 */
const VENDOR: Record<string, { pkg: string; file: string }> = {
  "preact.mjs": { pkg: "preact", file: "dist/preact.mjs" },
  "hooks.mjs": { pkg: "preact", file: "hooks/dist/hooks.mjs" },
  "htm.mjs": { pkg: "htm", file: "dist/htm.mjs" },
  "uPlot.esm.js": { pkg: "uplot", file: "dist/uPlot.esm.js" },
  "uPlot.min.css": { pkg: "uplot", file: "dist/uPlot.min.css" },
};

export interface Asset {
  body: Buffer;
  /** Gzipped body when that is worth it (text over 1 KiB). */
  gzip?: Buffer;
  contentType: string;
  etag: string;
  /** For index.html: the sha256 sources of its inline scripts (the import map), for the CSP. */
  scriptHashes: string[];
}

const SAFE_PATH = /^[A-Za-z0-9_\-./]+$/;
const require = createRequire(import.meta.url);

/** The folder of an installed package (found from its entry point: not every package exports ./package.json). */
function packageRoot(pkg: string): string | undefined {
  let dir: string;
  try {
    dir = dirname(require.resolve(pkg));
  } catch {
    return undefined;
  }
  for (;;) {
    try {
      const meta = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { name?: string };
      if (meta.name === pkg) return dir;
    } catch {
      // no package.json here: go up
    }
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

function vendorFile(name: string): string | undefined {
  const entry = VENDOR[name];
  const root = entry && packageRoot(entry.pkg);
  return root ? join(root, entry.file) : undefined;
}

/** Maps a path below /ui/ to a file, or undefined if it names nothing servable. */
export function assetFile(path: string): string | undefined {
  const rel = path === "" ? "index.html" : path;
  if (!SAFE_PATH.test(rel) || rel.split("/").some((part) => part === ".." || part === "." || part === "")) return undefined;
  if (!CONTENT_TYPES[extname(rel)]) return undefined;
  if (rel.startsWith("vendor/")) return vendorFile(rel.slice("vendor/".length));
  const file = resolve(UI_DIR, rel);
  return file.startsWith(UI_DIR + sep) ? file : undefined;
}

function inlineScriptHashes(html: string): string[] {
  const hashes: string[] = [];
  for (const m of html.matchAll(/<script(?![^>]*\bsrc=)[^>]*>([\s\S]*?)<\/script>/g)) {
    hashes.push(`'sha256-${createHash("sha256").update(m[1]!).digest("base64")}'`);
  }
  return hashes;
}

/**
 * Reads dashboard files on first request and keeps them (the whole dashboard is a few hundred
 * KiB): a node nobody opens the dashboard on holds none of it.
 */
export class UiAssets {
  private readonly cache = new Map<string, Promise<Asset | undefined>>();

  get(path: string): Promise<Asset | undefined> {
    let found = this.cache.get(path);
    if (!found) {
      found = this.load(path);
      this.cache.set(path, found);
      // A missing file is not cached, so the set of cached paths stays the set of real files.
      found.then((a) => a ?? this.cache.delete(path), () => this.cache.delete(path));
    }
    return found;
  }

  private async load(path: string): Promise<Asset | undefined> {
    const file = assetFile(path);
    if (!file) return undefined;
    let body: Buffer;
    try {
      body = await readFile(file);
    } catch {
      return undefined;
    }
    const contentType = CONTENT_TYPES[extname(file)]!;
    const compressible = !contentType.startsWith("image/") || contentType === "image/svg+xml";
    return {
      body,
      gzip: compressible && body.length > 1024 ? gzipSync(body) : undefined,
      contentType,
      etag: `"${createHash("sha256").update(body).digest("base64url").slice(0, 27)}"`,
      scriptHashes: extname(file) === ".html" ? inlineScriptHashes(body.toString("utf8")) : [],
    };
  }
}

/** The page may load only its own files and talk only to its own node. */
export function contentSecurityPolicy(scriptHashes: string[]): string {
  return [
    "default-src 'none'",
    `script-src 'self' ${scriptHashes.join(" ")}`.trim(),
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "font-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join("; ");
}
