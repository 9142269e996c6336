import { afterAll, beforeAll, describe, expect, it } from "vitest";
import puppeteer, { type Browser, type Page } from "puppeteer-core";
import { TEST_SECRETS, startNode, stopAll, type RunningNode } from "../helpers/launcher.js";
import { waitConverged } from "../helpers/cluster.js";

// The dashboard in Firefox (Debian's firefox-esr, driven over WebDriver BiDi by puppeteer-core;
// never a downloaded browser) against a real coordinator and worker started through the CLI.
// The Chromium suite (dashboard.test.ts) covers every view; this one proves the same page works
// in Firefox: sign-in, the live node table and event stream, the console, a refused key.
const FIREFOX = process.env.P2P_TEST_FIREFOX ?? "/usr/bin/firefox-esr";

let browser: Browser;
let coordinator: RunningNode;
let worker: RunningNode;

beforeAll(async () => {
  coordinator = await startNode({ role: "coordinator" });
  worker = await startNode({ role: "worker", args: ["--coord", `127.0.0.1:${coordinator.port}`] });
  await waitConverged([coordinator, worker]);
  browser = await puppeteer.launch({ browser: "firefox", executablePath: FIREFOX, headless: true });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await stopAll();
});

async function openPage(): Promise<Page> {
  const page = await browser.newPage();
  await page.setViewport({ width: 1440, height: 900 });
  await page.goto(`${coordinator.url}/ui/`);
  return page;
}

async function signIn(key: string): Promise<Page> {
  const page = await openPage();
  await page.type("input[name=api_key]", key);
  await page.click("button[type=submit]");
  await page.waitForSelector("[data-testid=nodes-table]");
  return page;
}

const text = (page: Page, selector: string) => page.$eval(selector, (e) => e.textContent).catch(() => null);
const nodeState = (page: Page, nodeId: string) => page.$eval(`tr[data-node-id="${nodeId}"]`, (e) => e.getAttribute("data-state")).catch(() => null);

describe("the dashboard in Firefox", { timeout: 120_000 }, () => {
  it("refuses a wrong key and stays on the sign-in form", async () => {
    const page = await openPage();
    await page.type("input[name=api_key]", "not-the-key");
    await page.click("button[type=submit]");
    await expect.poll(() => text(page, "[data-testid=signin-error]"), { timeout: 10_000 }).toContain("refused");
    expect(await page.$("[data-testid=nodes-table]")).toBeNull();
    await page.close();
  });

  it("signs in, shows both nodes alive over a live event stream, and keeps the token out of storage", async () => {
    const page = await signIn(TEST_SECRETS.P2P_API_KEY);
    expect(await text(page, "[data-testid=role]")).toBe("admin");
    for (const n of [coordinator, worker]) await expect.poll(() => nodeState(page, n.nodeId), { timeout: 15_000 }).toBe("alive");
    await expect.poll(() => text(page, "[data-testid=connection]"), { timeout: 15_000 }).toBe("live");
    const stored = await page.evaluate('[location.href, document.cookie, JSON.stringify({ ...localStorage }), JSON.stringify({ ...sessionStorage })].join(" ")');
    expect(stored).not.toMatch(/eyJ/);
    await page.close();
  });

  it("the console calls a method on a chosen node through its schema form", async () => {
    const page = await signIn(TEST_SECRETS.P2P_API_KEY);
    await page.click("[data-tab=console]");
    await page.type("[data-testid=method-filter]", "example_service.add");
    await page.click('button[data-method="example_service.add"]');
    await page.waitForSelector("input[name=a]");
    await page.type("input[name=a]", "2");
    await page.type("input[name=b]", "40");
    await page.select("#call-node", worker.nodeId);
    await page.click("[data-testid=call-button]");
    await expect.poll(() => text(page, "[data-testid=call-code]"), { timeout: 15_000 }).toBe("OK");
    expect(JSON.parse((await text(page, "[data-testid=call-body]"))!)).toEqual({ sum: 42 });
    expect(await text(page, "[data-testid=call-node]")).toBe(worker.nodeId);
    await page.close();
  });
});
