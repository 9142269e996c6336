import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chromium, type Browser, type Page } from "playwright-core";
import { rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO_ROOT, TEST_SECRETS, startNode, stopAll, type RunningNode } from "../helpers/launcher.js";
import { waitConverged } from "../helpers/cluster.js";
import { testToken } from "../helpers/http.js";

// The dashboard in a real browser (Debian's Chromium, never a downloaded one) against a real
// three-node cluster started through the CLI.
const CHROMIUM = process.env.P2P_TEST_CHROMIUM ?? "/usr/bin/chromium";
// The README's screenshot is refreshed only when asked (P2P_UPDATE_SCREENSHOT=1), so a test run leaves the tree clean.
const SCREENSHOT = process.env.P2P_UPDATE_SCREENSHOT === "1" ? join(REPO_ROOT, "docs/dashboard.png") : join(tmpdir(), `p2p-dashboard-${process.pid}.png`);

let browser: Browser;
let coordinator: RunningNode;
let workers: RunningNode[];

beforeAll(async () => {
  coordinator = await startNode({ role: "coordinator" });
  const coord = ["--coord", `127.0.0.1:${coordinator.port}`];
  workers = [await startNode({ role: "worker", args: coord }), await startNode({ role: "worker", args: coord })];
  await waitConverged([coordinator, ...workers]);
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: process.getuid?.() === 0 ? ["--no-sandbox"] : [] });
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await stopAll();
  if (process.env.P2P_UPDATE_SCREENSHOT !== "1") rmSync(SCREENSHOT, { force: true });
});

async function openPage(): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  const page = await context.newPage();
  await page.goto(`${coordinator.url}/ui/`);
  return page;
}

async function signIn(key: string): Promise<Page> {
  const page = await openPage();
  await page.fill("input[name=api_key]", key);
  await page.click("button[type=submit]");
  await page.waitForSelector("[data-testid=nodes-table]");
  return page;
}

const nodeState = (page: Page, nodeId: string) => page.locator(`tr[data-node-id="${nodeId}"]`).getAttribute("data-state", { timeout: 1000 }).catch(() => null);

// Generous: a busy 2-core machine takes seconds per page and per membership change.
describe("the dashboard in a browser", { timeout: 120_000 }, () => {
  it("refuses a wrong key and stays on the sign-in form", async () => {
    const page = await openPage();
    await page.fill("input[name=api_key]", "not-the-key");
    await page.click("button[type=submit]");
    await expect.poll(() => page.textContent("[data-testid=signin-error]").catch(() => null)).toContain("refused");
    expect(await page.locator("[data-testid=nodes-table]").count()).toBe(0);
    await page.context().close();
  });

  it("signs in with the admin key and shows every node with its state, live", async () => {
    const page = await signIn(TEST_SECRETS.P2P_API_KEY);
    expect(await page.textContent("[data-testid=role]")).toBe("admin");
    for (const n of [coordinator, ...workers]) await expect.poll(() => nodeState(page, n.nodeId), { timeout: 10_000 }).toBe("alive");
    await expect.poll(() => page.textContent("[data-testid=connection]"), { timeout: 10_000 }).toBe("live");
    expect(await page.locator("[data-tab=admin]").count()).toBe(1);
    // The token is in page memory only: not in the URL nor in any storage or readable cookie.
    const stored = await page.evaluate<string>('[location.href, document.cookie, JSON.stringify({ ...localStorage }), JSON.stringify({ ...sessionStorage })].join(" ")');
    expect(stored).not.toMatch(/eyJ/);
    await page.context().close();
  });

  it("a client-role sign-in sees no admin action, and the API refuses one anyway", async () => {
    const page = await signIn(TEST_SECRETS.P2P_CLIENT_KEY);
    expect(await page.textContent("[data-testid=role]")).toBe("client");
    await expect.poll(() => nodeState(page, coordinator.nodeId), { timeout: 10_000 }).toBe("alive");
    expect(await page.locator("[data-tab=admin]").count()).toBe(0);
    expect(await page.locator("[data-testid=broadcast], [data-testid=invalidate]").count()).toBe(0);
    // From the page itself (same origin): a client token is refused on an admin route.
    const status = await page.evaluate(async (clientKey) => {
      const json = { "content-type": "application/json" };
      const auth = (await (await fetch("/auth/token", { method: "POST", headers: json, body: JSON.stringify({ api_key: clientKey }) })).json()) as { access_token: string };
      const res = await fetch("/admin/cache/invalidate", { method: "POST", headers: { ...json, authorization: `Bearer ${auth.access_token}` }, body: JSON.stringify({ service: "example_service" }) });
      return { status: res.status, body: (await res.json()) as unknown };
    }, TEST_SECRETS.P2P_CLIENT_KEY);
    expect(status).toMatchObject({ status: 403, body: { error: { code: "FORBIDDEN" } } });
    await page.context().close();
  });

  it("calls made through /rpc move the charts", async () => {
    const page = await signIn(TEST_SECRETS.P2P_API_KEY);
    const headers = { authorization: `Bearer ${await testToken("admin")}`, "content-type": "application/json" };
    const rpc = (path: string, params: object) => fetch(`${coordinator.url}/rpc/${path}`, { method: "POST", headers, body: JSON.stringify({ params }) }).then((r) => r.text());
    // A bounded mix: successes, errors, and cached calls (repeated params hit the cache).
    for (let round = 0; round < 10; round++) {
      await Promise.all([
        ...Array.from({ length: 6 }, (_, i) => rpc("example_service/add", { a: round, b: i })),
        rpc("example_service/fail", { message: "on purpose" }),
        rpc("example_service/slow_square", { n: round % 3 }),
        rpc("example_service/sleep", { ms: 50 }),
      ]);
    }
    const latest = (testid: string) => page.getAttribute(`[data-testid=${testid}]`, "data-last").then(Number);
    await expect.poll(() => latest("chart-calls"), { timeout: 15_000 }).toBeGreaterThan(0);
    await page.click("[data-tab=metrics]");
    await page.click('tr[data-method="example_service.add"]');
    await expect.poll(() => latest("chart-method-calls"), { timeout: 10_000 }).toBeGreaterThan(0);
    await page.click('tr[data-method="example_service.sleep"]');
    await expect.poll(() => latest("chart-method-latency"), { timeout: 10_000 }).toBeGreaterThanOrEqual(45);
    await expect.poll(() => page.textContent('tr[data-method="example_service.fail"] td.bad')).not.toBe("0");
    await expect.poll(() => page.textContent("[data-testid=cache-hit-ratio]")).toMatch(/^\d+(\.\d)?%$/);
    await page.context().close();
  });

  it("the console calls a method through a form built from its schema, showing result, node and time; bad params show INVALID_PARAMS", async () => {
    const page = await signIn(TEST_SECRETS.P2P_API_KEY);
    const target = workers[1]!.nodeId;
    await page.click("[data-tab=console]");
    await page.fill("[data-testid=method-filter]", "example_service.add");
    await page.click('button[data-method="example_service.add"]');
    await page.fill("input[name=a]", "2");
    await page.fill("input[name=b]", "40");
    await page.selectOption("#call-node", target);
    await page.fill("#call-timeout", "5000");
    await page.click("[data-testid=call-button]");
    await expect.poll(() => page.textContent("[data-testid=call-code]")).toBe("OK");
    expect(JSON.parse((await page.textContent("[data-testid=call-body]"))!)).toEqual({ sum: 42 });
    expect(await page.textContent("[data-testid=call-node]")).toBe(target);
    expect(Number(await page.textContent("[data-testid=call-ms]"))).toBeGreaterThan(0);

    await page.fill("input[name=b]", ""); // b is required: the node refuses the call
    await page.click("[data-testid=call-button]");
    await expect.poll(() => page.textContent("[data-testid=call-code]")).toBe("INVALID_PARAMS");
    await page.context().close();
  });

  it("an admin broadcasts from the page after confirming, and sees every node's answer", async () => {
    const page = await signIn(TEST_SECRETS.P2P_API_KEY);
    await page.click("[data-tab=admin]");
    const box = page.locator("[data-testid=broadcast]");
    await box.locator("select[name=service]").selectOption("example_service");
    await box.locator("select[name=method]").selectOption("hello");
    await page.click("[data-testid=broadcast-button]");
    await page.click("[data-testid=confirm-ok]");
    const rows = page.locator("[data-testid=broadcast-results] tbody tr");
    await expect.poll(() => rows.count()).toBe(3);
    for (const n of [coordinator, ...workers]) expect(await page.textContent("[data-testid=broadcast-results]")).toContain(n.nodeId);
    await page.context().close();
  });

  it("a worker killed with SIGKILL turns dead on the page, and a new worker appears, without reloading", async () => {
    const page = await signIn(TEST_SECRETS.P2P_API_KEY);
    const victim = workers[0]!;
    // Calls keep flowing meanwhile (bounded: at most 400 rounds), so the screenshot shows traffic.
    const headers = { authorization: `Bearer ${await testToken("admin")}`, "content-type": "application/json" };
    let flowing = true;
    const traffic = (async () => {
      for (let round = 0; flowing && round < 400; round++) {
        const call = (m: string, params: object) => fetch(`${coordinator.url}/rpc/example_service/${m}`, { method: "POST", headers, body: JSON.stringify({ params }) }).then((r) => r.text(), () => "");
        await Promise.all([call("hello", { name: "tour" }), call("add", { a: round, b: 1 }), call("slow_square", { n: round % 4 }), round % 5 === 0 ? call("fail", {}) : null]);
        await new Promise((r) => setTimeout(r, 150));
      }
    })();
    await expect.poll(() => nodeState(page, victim.nodeId), { timeout: 10_000 }).toBe("alive");
    victim.signal("SIGKILL");
    const killedAt = Date.now();
    await expect.poll(() => nodeState(page, victim.nodeId), { timeout: 30_000, interval: 200 }).toBe("dead");
    const deadAfterMs = Date.now() - killedAt;
    expect(deadAfterMs).toBeLessThan(30_000);

    const fresh = await startNode({ role: "worker", args: ["--coord", `127.0.0.1:${coordinator.port}`] });
    await expect.poll(() => nodeState(page, fresh.nodeId), { timeout: 20_000, interval: 200 }).toBe("alive");
    await page.click("[data-tab=timeline]");
    await expect.poll(() => page.textContent("[data-testid=timeline]")).toContain(`${victim.nodeId} is dead`);

    await page.click("[data-tab=overview]");
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    flowing = false;
    await traffic;
    await page.context().close();
  });
});
