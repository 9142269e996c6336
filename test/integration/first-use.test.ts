import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startNode, stopAll, type RunningNode } from "../helpers/launcher.js";

/**
 * The Swagger UI, the OpenAPI document and the dashboard's files are loaded on first use, not at
 * start: the first requests must answer like any later one (200, same content), not an error or a
 * stall, also when several arrive at once.
 */
let node: RunningNode;

beforeAll(async () => {
  node = await startNode();
});
afterAll(stopAll);

async function timed(url: string): Promise<{ status: number; type: string | null; body: string; ms: number }> {
  const started = Date.now();
  const res = await fetch(url);
  const body = await res.text();
  return { status: res.status, type: res.headers.get("content-type"), body, ms: Date.now() - started };
}

describe("first use of the lazily loaded parts", () => {
  it("the first /docs, /docs/json and /openapi.json requests, sent together, all answer 200 with the same document", async () => {
    const [page, pageSlash, json, openapi, asset] = await Promise.all([
      timed(`${node.url}/docs`),
      timed(`${node.url}/docs/`),
      timed(`${node.url}/docs/json`),
      timed(`${node.url}/openapi.json`),
      timed(`${node.url}/docs/static/swagger-ui.css`),
    ]);
    for (const r of [page, pageSlash, json, openapi, asset]) {
      expect(r.status).toBe(200);
      expect(r.ms).toBeLessThan(10_000); // loading is a one-off of ~100 ms; generous for a loaded machine
    }
    expect(page.type).toContain("text/html");
    expect(page.body).toContain("swagger");
    expect(asset.type).toContain("text/css");
    const doc = JSON.parse(openapi.body) as { paths: Record<string, unknown> };
    expect(JSON.parse(json.body)).toEqual(doc);
    expect(doc.paths).toHaveProperty(["/rpc/example_service/echo"]);
    expect(doc.paths).toHaveProperty(["/health"]);
    expect(Object.keys(doc.paths).some((p) => p.startsWith("/docs"))).toBe(false);
  });

  it("a missing file under /docs is a 404 in the node's envelope", async () => {
    const res = await timed(`${node.url}/docs/static/no-such-file.js`);
    expect(res.status).toBe(404);
    expect(JSON.parse(res.body)).toEqual({ error: { code: "NOT_FOUND", message: "route GET /docs/static/no-such-file.js not found" } });
  });

  it("the first /ui/ request and the page's first module answer 200", async () => {
    const [page, module] = await Promise.all([timed(`${node.url}/ui/`), timed(`${node.url}/ui/js/main.js`)]);
    expect(page.status).toBe(200);
    expect(page.type).toContain("text/html");
    expect(page.ms).toBeLessThan(10_000);
    expect(module.status).toBe(200);
    expect(module.type).toContain("javascript");
  });
});
