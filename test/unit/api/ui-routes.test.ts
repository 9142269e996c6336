import { afterAll, beforeAll, describe, expect, it } from "vitest";
import Fastify, { type FastifyInstance } from "fastify";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import pino from "pino";
import { uiRoutes } from "../../../src/api/routes/ui.js";
import { UI_DIR, UiAssets, assetFile } from "../../../src/api/ui-assets.js";

let app: FastifyInstance;
let assets: UiAssets;

beforeAll(async () => {
  app = Fastify();
  assets = new UiAssets();
  uiRoutes(app, pino({ level: "silent" }), assets);
  await app.ready();
});
afterAll(() => app.close());

describe("the dashboard's files at /ui/", () => {
  it("serves the page without a token, with a strict Content-Security-Policy", async () => {
    const res = await app.inject({ url: "/ui/" });
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toBe("text/html; charset=utf-8");
    expect(res.body).toContain('<script type="module" src="./js/main.js">');
    const csp = String(res.headers["content-security-policy"]);
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("connect-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|https?:/);
    expect(res.headers["x-content-type-options"]).toBe("nosniff");
    expect(res.headers["cache-control"]).toBe("no-cache");
  });

  it("allows exactly the page's inline import map by its hash", async () => {
    const res = await app.inject({ url: "/ui/" });
    const importMap = /<script type="importmap">([\s\S]*?)<\/script>/.exec(res.body)![1]!;
    const hash = createHash("sha256").update(importMap).digest("base64");
    expect(String(res.headers["content-security-policy"])).toContain(`'sha256-${hash}'`);
    for (const target of Object.values((JSON.parse(importMap) as { imports: Record<string, string> }).imports)) {
      const mod = await app.inject({ url: `/ui/${target.replace(/^\.\//, "")}` });
      expect(mod.statusCode, target).toBe(200);
      expect(mod.headers["content-type"]).toBe("text/javascript; charset=utf-8");
    }
  });

  it("serves scripts, styles and the installed vendor modules with their content types", async () => {
    const cases: [string, string][] = [
      ["/ui/js/main.js", "text/javascript; charset=utf-8"],
      ["/ui/app.css", "text/css; charset=utf-8"],
      ["/ui/favicon.svg", "image/svg+xml"],
      ["/ui/vendor/uPlot.min.css", "text/css; charset=utf-8"],
    ];
    for (const [url, type] of cases) {
      const res = await app.inject({ url });
      expect(res.statusCode, url).toBe(200);
      expect(res.headers["content-type"], url).toBe(type);
    }
    const main = await app.inject({ url: "/ui/js/main.js" });
    expect(main.body).toBe(readFileSync(join(UI_DIR, "js/main.js"), "utf8"));
  });

  it("answers 304 to a matching If-None-Match and gzips for clients that accept it", async () => {
    const first = await app.inject({ url: "/ui/vendor/uPlot.esm.js" });
    const etag = String(first.headers.etag);
    expect(etag).toMatch(/^".+"$/);
    const again = await app.inject({ url: "/ui/vendor/uPlot.esm.js", headers: { "if-none-match": etag } });
    expect(again.statusCode).toBe(304);
    expect(again.body).toBe("");
    const gz = await app.inject({ url: "/ui/vendor/uPlot.esm.js", headers: { "accept-encoding": "gzip, br" } });
    expect(gz.headers["content-encoding"]).toBe("gzip");
    expect(gunzipSync(gz.rawPayload).toString()).toBe(first.body);
    expect(gz.rawPayload.length).toBeLessThan(first.rawPayload.length / 2);
  });

  it("refuses paths outside the dashboard and unknown files with 404 in the error envelope", async () => {
    for (const url of ["/ui/../package.json", "/ui/%2e%2e/package.json", "/ui/js/../../package.json", "/ui/nope.js", "/ui/vendor/lodash.js", "/ui/js/main.ts", "/ui//etc/passwd"]) {
      const res = await app.inject({ url });
      expect(res.statusCode, url).toBe(404);
      expect(res.body, url).not.toContain('"name"'); // not package.json's text
    }
    const res = await app.inject({ url: "/ui/js/nothing-here.js" });
    expect(res.json()).toMatchObject({ error: { code: "NOT_FOUND" } });
    expect(assetFile("../src/node.ts")).toBeUndefined();
    expect(assetFile("js/./main.js")).toBeUndefined();
  });

  it("redirects /ui to /ui/ so relative asset URLs resolve", async () => {
    const res = await app.inject({ url: "/ui" });
    expect(res.statusCode).toBe(308);
    expect(res.headers.location).toBe("/ui/");
  });

  it("reads files only when asked", async () => {
    const fresh = new UiAssets();
    const cache = (fresh as unknown as { cache: Map<string, unknown> }).cache;
    expect(cache.size).toBe(0);
    await fresh.get("app.css");
    await fresh.get("missing.css");
    expect([...cache.keys()]).toEqual(["app.css"]);
  });
});
