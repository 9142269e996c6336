import { afterAll, beforeAll, describe, expect, it } from "vitest";
import Fastify, { type FastifyInstance } from "fastify";
import pino from "pino";
import { registerOriginCheck } from "../../../src/api/origin-check.js";

let app: FastifyInstance;

beforeAll(async () => {
  app = Fastify();
  registerOriginCheck(app, pino({ level: "silent" }));
  app.post("/admin/broadcast", async () => ({ done: true }));
  app.delete("/admin/deployments/x", async () => ({ done: true }));
  app.get("/cluster/nodes", async () => ({ nodes: [] }));
  await app.ready();
});
afterAll(() => app.close());

const host = "127.0.0.1:8001";

describe("requests that change something from another origin are refused", () => {
  it("a POST whose Origin names another site gets 403 FORBIDDEN in the error envelope", async () => {
    for (const origin of ["http://evil.example", "http://127.0.0.1:9999", "https://127.0.0.1:8001", "null"]) {
      const res = await app.inject({ method: "POST", url: "/admin/broadcast", headers: { host, origin }, payload: {} });
      expect(res.statusCode, origin).toBe(403);
      expect(res.json()).toMatchObject({ error: { code: "FORBIDDEN", message: expect.stringContaining("origin") } });
    }
    const del = await app.inject({ method: "DELETE", url: "/admin/deployments/x", headers: { host, origin: "http://evil.example" } });
    expect(del.statusCode).toBe(403);
  });

  it("the node's own origin, and requests without Origin (curl, SDKs), go through", async () => {
    const same = await app.inject({ method: "POST", url: "/admin/broadcast", headers: { host, origin: "http://127.0.0.1:8001" }, payload: {} });
    expect(same.statusCode).toBe(200);
    const upper = await app.inject({ method: "POST", url: "/admin/broadcast", headers: { host: "LocalHost:8001", origin: "http://localhost:8001" }, payload: {} });
    expect(upper.statusCode).toBe(200);
    const none = await app.inject({ method: "POST", url: "/admin/broadcast", headers: { host }, payload: {} });
    expect(none.statusCode).toBe(200);
  });

  it("reads are not affected by Origin", async () => {
    const res = await app.inject({ method: "GET", url: "/cluster/nodes", headers: { host, origin: "http://evil.example" } });
    expect(res.statusCode).toBe(200);
  });
});
