/** Files of `p2p new service NAME` (template "basic"). */
import type { ServiceNames } from "./names.js";

export function basicService(n: ServiceNames): Record<string, string> {
  return {
    "schemas.ts": `import type { JsonSchema } from "p2p-core";

/** Params of ${n.service}.greet, checked by the node before the method runs (400 INVALID_PARAMS otherwise). */
export const greetParams = {
  type: "object",
  properties: { name: { type: "string", minLength: 1, maxLength: 100 } },
  additionalProperties: false,
} satisfies JsonSchema;

export interface GreetParams {
  name?: string;
}

export const countParams = {
  type: "object",
  properties: { to: { type: "integer", minimum: 1, maximum: 100000 } },
  required: ["to"],
  additionalProperties: false,
} satisfies JsonSchema;

export interface CountParams {
  to: number;
}
`,
    "main.ts": `import { setTimeout as sleep } from "node:timers/promises";
import { BaseService, serviceMethod } from "p2p-core";
import { countParams, greetParams, type CountParams, type GreetParams } from "./schemas.js";

/** ${n.service}: what a service looks like. Run it with \`npm start\`, test it with \`npm test\`. */
export default class ${n.className} extends BaseService {
  static SERVICE_NAME = "${n.service}";
  static VERSION = "0.1.0";
  static DESCRIPTION = "A new service";

  private greeted = 0;

  async initialize(): Promise<void> {
    this.logger.info("${n.service} up");
  }

  @serviceMethod({ description: "Say hello", public: true, idempotent: true, params: greetParams })
  async greet({ name = "World" }: GreetParams) {
    this.greeted += 1;
    return { message: \`Hello, \${name}!\`, node: this.nodeId };
  }

  @serviceMethod({ description: "How many greetings this node gave", public: true, idempotent: true })
  async stats() {
    return { greeted: this.greeted, node: this.nodeId };
  }

  @serviceMethod({ description: "Slow work that stops as soon as the caller stops waiting", public: true, params: countParams })
  async count({ to }: CountParams) {
    let reached = 0;
    for (; reached < to; reached++) {
      // Rejects when the caller's deadline passes or the caller goes away.
      await sleep(10, undefined, { signal: this.call.signal });
    }
    return { reached };
  }
}
`,
    "main.test.ts": `import { test } from "node:test";
import assert from "node:assert/strict";
import { createTestBed } from "p2p-core/testing";
import ${n.className} from "./main.js";

test("${n.service}.greet answers with the node's name", async () => {
  const bed = await createTestBed({ services: [${n.className}] });
  assert.deepEqual(await bed.call("${n.service}.greet", { name: "Ada" }), { message: "Hello, Ada!", node: "test-node" });
  assert.deepEqual(await bed.call("${n.service}.stats"), { greeted: 1, node: "test-node" });
  await assert.rejects(bed.call("${n.service}.greet", { name: 42 }), { code: "INVALID_PARAMS" });
  await bed.close();
});

test("${n.service}.count stops at the caller's deadline", async () => {
  const bed = await createTestBed({ services: [${n.className}] });
  const late = bed.call("${n.service}.count", { to: 1000 }, { timeoutMs: 50 });
  bed.clock.advance(50);
  await assert.rejects(late, { code: "TIMEOUT" });
  await bed.close();
});
`,
  };
}
