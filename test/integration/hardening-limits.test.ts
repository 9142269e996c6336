import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { SignJWT } from "jose";
import { REPO_ROOT, runCli, startNode, stopAll, waitFor, TEST_SECRETS, type RunningNode } from "../helpers/launcher.js";
import { request, testToken } from "../helpers/http.js";
import { requestFrom } from "../helpers/raw-http.js";

const HOSTILE = join(REPO_ROOT, "test/fixtures/hostile-services");

let limited: RunningNode;
let capped: RunningNode;

beforeAll(async () => {
  [limited, capped] = await Promise.all([
    startNode({ nodeId: "h-rate", args: ["--services-dir", HOSTILE, "--rate-limit", "5"] }),
    startNode({ nodeId: "h-cap", args: ["--services-dir", HOSTILE], env: { P2P_MAX_LOCAL_CALLS: "4" } }),
  ]);
});
afterAll(stopAll);

const tokenFor = async (node: RunningNode, apiKey: string, nodeId: string) =>
  String((await request(`${node.url}/auth/token`, { body: { node_id: nodeId, api_key: apiKey } })).body.access_token);

describe("rate limits key on what a caller cannot mint", () => {
  it("20 tokens with fresh subjects share one bucket: their credential's, at their address", async () => {
    const tokens = await Promise.all(Array.from({ length: 20 }, (_, i) => tokenFor(limited, TEST_SECRETS.P2P_CLIENT_KEY, `fresh-${i}-${Date.now()}`)));
    const started = Date.now();
    const answers = await Promise.all(Array.from({ length: 100 }, (_, i) => request(`${limited.url}/rpc/hostile/echo`, { token: tokens[i % 20], body: { params: { i } } })));
    const elapsedS = (Date.now() - started) / 1000;
    const ok = answers.filter((a) => a.status === 200).length;
    expect(ok).toBeLessThanOrEqual(5 + Math.ceil(elapsedS * 5) + 1);
    const refused = answers.find((a) => a.status === 429)!;
    expect(refused.body).toMatchObject({ id: null, error: { code: "RATE_LIMITED" } });
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    // Another credential, or another address, has its own bucket.
    const admin = await tokenFor(limited, TEST_SECRETS.P2P_API_KEY, "ops");
    expect((await request(`${limited.url}/rpc/hostile/echo`, { token: admin, body: {} })).status).toBe(200);
    expect((await requestFrom("127.0.0.2", `${limited.url}/rpc/hostile/echo`, { token: tokens[0], body: {} })).status).toBe(200);
  });

  it("/auth/token failures are throttled per source address (429), other addresses unaffected", async () => {
    const started = Date.now();
    const statuses: number[] = [];
    for (let i = 0; i < 40; i++) statuses.push((await request(`${limited.url}/auth/token`, { body: { node_id: "x", api_key: `guess-${i}` } })).status);
    const elapsedS = (Date.now() - started) / 1000;
    expect(statuses.filter((s) => s === 401).length).toBeLessThanOrEqual(10 + Math.ceil(elapsedS) + 1);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(20);
    const throttled = await request(`${limited.url}/auth/token`, { body: { node_id: "x", api_key: TEST_SECRETS.P2P_API_KEY } });
    expect(throttled.status).toBe(429);
    expect(throttled.body).toMatchObject({ error: { code: "RATE_LIMITED" } });
    const elsewhere = await requestFrom("127.0.0.3", `${limited.url}/auth/token`, { body: { node_id: "x", api_key: TEST_SECRETS.P2P_API_KEY } });
    expect(elsewhere.status).toBe(200);
  });

  it("a flood of bad requests is logged as a few lines with counts, without stacks", async () => {
    for (let i = 0; i < 300; i++) await request(`${limited.url}/rpc/hostile/echo`, { token: await testToken("admin"), rawBody: "{not json" });
    await waitFor(() => /"count":\d{3,}.*aggregated/.test(limited.output()), 20_000, () => "an aggregated summary line");
    const lines = limited.output().split("\n").filter((l) => /bad request/.test(l));
    expect(lines.length).toBeLessThanOrEqual(8);
    expect(limited.output()).not.toMatch(/"stack"|"level":50/);
  });
});

describe("local executions are capped with a bounded queue", () => {
  it("a flood of slow calls gets 503 beyond the cap and queue; other methods still answer", { timeout: 60_000 }, async () => {
    const admin = await testToken("admin");
    const flood = Array.from({ length: 40 }, (_, i) => request(`${capped.url}/rpc/hostile/sleep`, { token: admin, body: { params: { ms: 2500 }, id: i } }));
    await waitFor(() => capped.output().includes("sleep started"), 10_000, () => "the flood to start");
    const other = await request(`${capped.url}/rpc/hostile/echo`, { token: admin, body: { params: { x: 1 } } });
    expect(other.status).toBe(200);
    const answers = await Promise.all(flood);
    const ok = answers.filter((a) => a.status === 200).length;
    const full = answers.filter((a) => a.status === 503);
    // 4 slots, 16 queued, one method at most half of each: 2 running + 8 queued.
    expect(ok).toBe(10);
    expect(full).toHaveLength(30);
    expect(full[0]!.body).toMatchObject({ error: { code: "UNAVAILABLE", data: { reason: "bulkhead_full" } } });
    expect(full[0]!.body).toHaveProperty("id");
    expect((await request(`${capped.url}/health`)).status).toBe(200);
  });
});

describe("token lifetimes", () => {
  const key = new TextEncoder().encode(TEST_SECRETS.P2P_JWT_SECRET);
  const signed = (iat: number, exp: number) => new SignJWT({ role: "admin" }).setProtectedHeader({ alg: "HS256" }).setSubject("x").setIssuer("p2p-core").setIssuedAt(iat).setExpirationTime(exp).sign(key);

  it("iat in the future and lifetimes over 30 days are refused with 401", async () => {
    const now = Math.floor(Date.now() / 1000);
    for (const token of [await signed(now + 3600, now + 7200), await signed(now, now + 31 * 86400), await signed(now, Math.floor(Date.UTC(3000, 0, 1) / 1000))]) {
      const res = await request(`${capped.url}/cluster/nodes`, { token });
      expect(res.status).toBe(401);
      expect(res.body).toMatchObject({ error: { code: "UNAUTHORIZED" } });
    }
    expect((await request(`${capped.url}/cluster/nodes`, { token: await signed(now, now + 30 * 86400) })).status).toBe(200);
  });

  it("p2p token --ttl is limited to 30 days", async () => {
    const env = { P2P_JWT_SECRET: TEST_SECRETS.P2P_JWT_SECRET };
    const tooLong = await runCli(["token", "--ttl", "31d"], env);
    expect(tooLong.code).not.toBe(0);
    expect(tooLong.stderr).toMatch(/--ttl: "31d" must be between 1s and 30d/);
    const month = await runCli(["token", "--ttl", "30d"], env);
    expect(month.code).toBe(0);
    expect((await request(`${capped.url}/cluster/nodes`, { token: month.stdout.trim() })).status).toBe(200);
  });
});
