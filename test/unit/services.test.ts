import { afterAll, describe, expect, it } from "vitest";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import pino from "pino";
import { BaseService, type ServiceContext } from "../../src/services/base-service.js";
import { serviceMethod } from "../../src/services/method-options.js";
import { stubContext } from "../helpers/service-context.js";
import { discoverServiceEntries, instantiate, loadServiceFile, type LoadOptions } from "../../src/services/loader.js";
import { compileParamsSchema } from "../../src/services/schema.js";

const logger = pino({ level: "silent" });
const options: LoadOptions = {
  logger,
  lifecycleTimeoutMs: 500,
  contextFor: (info) => stubContext(info),
};

class Calculator extends BaseService {
  static override SERVICE_NAME = "calc";
  static override VERSION = "2.1.0";
  initialized = false;
  override async initialize() {
    this.initialized = true;
  }
  @serviceMethod({ public: true, idempotent: true, description: "add", params: { type: "object", required: ["a"], properties: { a: { type: "number" } } } })
  async add({ a }: { a: number }) {
    return { a, node: this.nodeId };
  }
  @serviceMethod({ cache: { ttl_s: 5 }, timeout_ms: 1000 })
  async hidden() {
    return "secret";
  }
  notExposed() {
    return "plain method";
  }
}

describe("service framework and loader", () => {
  it("collects decorated methods with their options and initialises the service", async () => {
    const svc = await instantiate(Calculator, "folder_name", options);
    expect(svc).toMatchObject({ name: "calc", version: "2.1.0", status: "running" });
    expect((svc.instance as Calculator).initialized).toBe(true);
    expect([...svc.methods.keys()].sort()).toEqual(["add", "hidden"]);
    expect(svc.methods.get("add")!.descriptor).toMatchObject({ name: "add", public: true, idempotent: true });
    expect(svc.methods.get("hidden")!.descriptor).toMatchObject({ cache: { ttl_s: 5 }, timeout_ms: 1000 });
    expect(await svc.methods.get("add")!.invoke({ a: 2 })).toEqual({ a: 2, node: "n1" });
  });

  it("defaults the name to the folder and rejects bad names and options", async () => {
    class Plain extends BaseService {
      @serviceMethod() async ping() {
        return "pong";
      }
    }
    expect((await instantiate(Plain, "folder_name", options)).name).toBe("folder_name");
    await expect(instantiate(Plain, "bad name!", options)).rejects.toThrow(/service name/);
    class BadTtl extends BaseService {
      @serviceMethod({ cache: { ttl_s: -1 } }) async x() {
        return 1;
      }
    }
    await expect(instantiate(BadTtl, "bad_ttl", options)).rejects.toThrow(/ttl_s/);
    class Empty extends BaseService {}
    await expect(instantiate(Empty, "empty", options)).rejects.toThrow(/no @serviceMethod/);
    class BadSchema extends BaseService {
      @serviceMethod({ params: { type: "no-such-type" } }) async x() {
        return 1;
      }
    }
    await expect(instantiate(BadSchema, "bad_schema", options)).rejects.toThrow();
  });

  it("a hanging initialize() is bounded", async () => {
    class Hangs extends BaseService {
      override initialize() {
        return new Promise<void>(() => undefined);
      }
      @serviceMethod() async x() {
        return 1;
      }
    }
    await expect(instantiate(Hangs, "hangs", options)).rejects.toThrow(/did not finish within 500 ms/);
  });

  describe("from folders", () => {
    const root = mkdtempSync(join(tmpdir(), "p2p-services-"));
    afterAll(() => rmSync(root, { recursive: true, force: true }));

    it("finds main.ts / main.js folders and ignores others", async () => {
      mkdirSync(join(root, "b_js"));
      writeFileSync(join(root, "b_js", "main.js"), "export const notAService = 1;\n");
      mkdirSync(join(root, "a_empty"));
      mkdirSync(join(root, "c_ts"));
      writeFileSync(join(root, "c_ts", "main.ts"), "export const y: number = 2;\n");
      const entries = await discoverServiceEntries(root);
      expect(entries.map((e) => e.folder)).toEqual(["b_js", "c_ts"]);
      await expect(loadServiceFile("b_js", entries[0]!.file, options)).rejects.toThrow(/no class extending BaseService/);
      expect(await discoverServiceEntries(join(root, "missing"))).toEqual([]);
    });
  });
});

describe("params validation", () => {
  it("compiles a schema once and reports each issue with its path", () => {
    const validate = compileParamsSchema({ type: "object", properties: { n: { type: "integer", minimum: 1 } }, required: ["n"], additionalProperties: false });
    expect(validate({ n: 3 })).toBeNull();
    expect(validate({})).toEqual([{ path: "/", message: "must have required property 'n'" }]);
    expect(validate({ n: 0 })![0]!.path).toBe("/n");
    expect(validate({ n: 1, extra: true })).not.toBeNull();
  });
});
