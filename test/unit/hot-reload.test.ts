import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import pino from "pino";
import { FakeClock } from "../../src/util/clock.js";
import { BaseService } from "../../src/services/base-service.js";
import { LocalServices, type LocalService } from "../../src/services/local-services.js";
import { HotReloader, RELOAD_DEBOUNCE_MS, watchTree, type ReloadedHost } from "../../src/services/hot-reload.js";

const dir = mkdtempSync(join(tmpdir(), "p2p-hot-"));
mkdirSync(join(dir, "hot"));
writeFileSync(join(dir, "hot", "main.js"), "export {}\n");
afterAll(() => rmSync(dir, { recursive: true, force: true }));

class Stub extends BaseService {
  cleaned = 0;
  override async cleanup() {
    this.cleaned += 1;
  }
}

function serviceOf(version: string, answer: (p: Record<string, unknown>) => unknown): LocalService {
  const instance = new Stub();
  return { name: "hot", version, description: "", instance, status: "running", methods: new Map([["value", { descriptor: { name: "value" }, invoke: answer, validate: null }]]) };
}

let clock: FakeClock;
let local: LocalServices;
let change: (path: string) => void;
let started: string[];
let nextHost: () => Promise<ReloadedHost>;
let events: { type: string; data: Record<string, unknown> }[];
let reloader: HotReloader;

function hostOf(version: string): ReloadedHost {
  const service = serviceOf(version, () => version);
  return { service, stop: async () => void (service.status = "stopped"), onExit: () => undefined };
}

/**
 * Waits (real time, bounded) until `check` passes. A reload reads the folder from disk: on a busy
 * machine that can take longer than `run`'s steps, and the fake clock must not be the one waiting.
 */
function settled(check: () => void): Promise<void> {
  return vi.waitFor(check, { timeout: 10_000, interval: 5 });
}

/** Lets promise chains run, advancing the fake clock by `ms` in small steps. */
async function run(ms = 0): Promise<void> {
  for (let t = 0; t <= ms; t += 10) {
    for (let i = 0; i < 20; i++) await Promise.resolve();
    await new Promise((r) => setTimeout(r, 1));
    clock.advance(10);
  }
}

beforeEach(() => {
  clock = new FakeClock();
  local = new LocalServices();
  local.add(serviceOf("1", () => "v1"));
  // Each test's reloader writes into its own arrays: a reload still reading the disk when its
  // test ends must not land in the next test's.
  const startedHere: string[] = (started = []);
  const eventsHere: typeof events = (events = []);
  nextHost = async () => hostOf(`${started.length + 1}`);
  reloader = new HotReloader({
    nodeId: "n1",
    servicesDir: dir,
    local,
    folders: [{ folder: "hot", file: join(dir, "hot", "main.js"), name: "hot" }],
    startHost: (spec) => (startedHere.push(spec.file), nextHost()),
    announce: () => undefined,
    publish: (type, data) => eventsHere.push({ type, data: data as Record<string, unknown> }),
    logger: pino({ level: "silent" }),
    clock,
    lifecycleTimeoutMs: 1_000,
    graceMs: 5_000,
    watch: (_dir, onChange) => ((change = onChange), { close: () => undefined }),
  });
  reloader.start();
});

afterEach(() => reloader.stop());

describe("hot reload of the services dir", () => {
  it("debounces a burst of changes into one reload, after the folder is quiet", async () => {
    change(join("hot", "main.js"));
    await run(RELOAD_DEBOUNCE_MS - 50);
    change(join("hot", "lib", "x.js"));
    await run(RELOAD_DEBOUNCE_MS - 50);
    expect(started).toEqual([]);
    await run(100);
    await settled(() => expect(local.get("hot")!.version).toBe("2"));
    expect(started).toEqual([join(dir, "hot", "main.js")]);
    expect(events).toContainEqual({ type: "service", data: { node_id: "n1", service: "hot", status: "reloaded", version: "2" } });
  });

  it("ignores hidden files, backups, node_modules and files outside a service folder", async () => {
    for (const path of [join("hot", ".main.js.1a2b.p2p.mjs"), join("hot", ".main.js.swp"), join("hot", "main.js~"), join("hot", "node_modules", "x", "i.js"), "README.md"]) change(path);
    await run(2 * RELOAD_DEBOUNCE_MS);
    expect(started).toEqual([]);
  });

  it("a version that fails to load keeps the running one and says why", async () => {
    nextHost = async () => {
      throw new Error("main.ts:3:1: ERROR: Unexpected }");
    };
    change(join("hot", "main.js"));
    await run(2 * RELOAD_DEBOUNCE_MS);
    await settled(() => expect(events.map((e) => e.data.status)).toContain("reload_failed"));
    expect(started).toHaveLength(1);
    expect(local.get("hot")!.version).toBe("1");
    expect(await local.get("hot")!.methods.get("value")!.invoke({})).toBe("v1");
    expect(events).toContainEqual({ type: "service", data: { node_id: "n1", service: "hot", status: "reload_failed", error: "main.ts:3:1: ERROR: Unexpected }" } });
  });

  it("the replaced version finishes its call in flight before its cleanup runs", async () => {
    let finish: (v: unknown) => void = () => undefined;
    const old = local.get("hot")!;
    // A call that started on the old version (the router holds the method it looked up).
    old.methods.set("value", { ...old.methods.get("value")!, invoke: () => new Promise((r) => (finish = r)) });
    reloader.stop();
    const counted = new HotReloader({
      nodeId: "n1",
      servicesDir: dir,
      local,
      folders: [{ folder: "hot", file: join(dir, "hot", "main.js"), name: "hot" }],
      startHost: async () => hostOf("2"),
      announce: () => undefined,
      publish: () => undefined,
      logger: pino({ level: "silent" }),
      clock,
      lifecycleTimeoutMs: 1_000,
      graceMs: 5_000,
      watch: (_dir, onChange) => ((change = onChange), { close: () => undefined }),
    });
    counted.start();
    const inFlight = old.methods.get("value")!.invoke({}) as Promise<unknown>;
    change(join("hot", "main.js"));
    await run(2 * RELOAD_DEBOUNCE_MS);
    await settled(() => expect(local.get("hot")!.version).toBe("2"));
    expect((old.instance as Stub).cleaned).toBe(0);
    finish("late answer");
    expect(await inFlight).toBe("late answer");
    await settled(() => {
      clock.advance(10);
      expect((old.instance as Stub).cleaned).toBe(1);
    });
    expect(old.status).toBe("stopped");
  });

  it("a second reload stops the host of the first", async () => {
    const hosts: ReloadedHost[] = [];
    nextHost = async () => {
      const h = hostOf(`${hosts.length + 2}`);
      hosts.push(h);
      return h;
    };
    change(join("hot", "main.js"));
    await run(2 * RELOAD_DEBOUNCE_MS);
    await settled(() => expect(hosts).toHaveLength(1));
    change(join("hot", "main.js"));
    await run(2 * RELOAD_DEBOUNCE_MS);
    await settled(() => expect(local.get("hot")).toBe(hosts[1]?.service));
    expect(hosts).toHaveLength(2);
    expect(hosts[0]!.service.status).toBe("stopped");
    expect(local.get("hot")).toBe(hosts[1]!.service);
  });
});

describe("watchTree (real files)", () => {
  it("reports edits in folders created after it started, and in files replaced by a rename", async () => {
    const root = mkdtempSync(join(tmpdir(), "p2p-tree-"));
    mkdirSync(join(root, "svc"));
    writeFileSync(join(root, "svc", "main.js"), "1");
    const seen: string[] = [];
    const tree = watchTree(root, (p) => seen.push(p), () => undefined);
    const until = async (path: string) => {
      for (let i = 0; i < 200 && !seen.includes(path); i++) await new Promise((r) => setTimeout(r, 10));
      expect(seen).toContain(path);
    };
    try {
      writeFileSync(join(root, "svc", ".main.js.tmp"), "2");
      renameSync(join(root, "svc", ".main.js.tmp"), join(root, "svc", "main.js"));
      await until(join("svc", "main.js"));
      seen.length = 0;
      writeFileSync(join(root, "svc", "main.js"), "3");
      await until(join("svc", "main.js"));
      mkdirSync(join(root, "svc", "lib"));
      await until(join("svc", "lib"));
      writeFileSync(join(root, "svc", "lib", "x.js"), "4");
      await until(join("svc", "lib", "x.js"));
      // A whole service folder moved in at once: its files are there before its watch is.
      const outside = mkdtempSync(join(tmpdir(), "p2p-tree-new-"));
      mkdirSync(join(outside, "svc2", "lib"), { recursive: true });
      writeFileSync(join(outside, "svc2", "main.js"), "5");
      writeFileSync(join(outside, "svc2", "lib", "y.js"), "6");
      renameSync(join(outside, "svc2"), join(root, "svc2"));
      await until(join("svc2", "main.js"));
      await until(join("svc2", "lib", "y.js"));
      rmSync(outside, { recursive: true, force: true });
    } finally {
      tree.close();
      rmSync(root, { recursive: true, force: true });
    }
  });
});
