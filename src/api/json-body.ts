import type { FastifyInstance } from "fastify";
import { P2PError } from "../errors.js";

/**
 * Deepest JSON a request body may nest (objects and arrays). JSON.parse copes with any depth,
 * but everything after it that walks a value recursively (JSON.stringify on a peer link, cache
 * keys, schema checks) does not: checked once here, at the edge, so nothing further in sees more.
 */
export const MAX_JSON_DEPTH = 64;

/** True when `value` nests objects/arrays deeper than `max`; iterative, so it cannot overflow itself. */
export function nestsDeeperThan(value: unknown, max: number): boolean {
  const stack: { value: unknown; depth: number }[] = [{ value, depth: 0 }];
  while (stack.length > 0) {
    const top = stack.pop()!;
    if (top.value === null || typeof top.value !== "object") continue;
    const depth = top.depth + 1;
    if (depth > max) return true;
    const children = Array.isArray(top.value) ? top.value : Object.values(top.value);
    for (const child of children) if (child !== null && typeof child === "object") stack.push({ value: child, depth });
  }
  return false;
}

/**
 * Every body is parsed as JSON whatever its content type (clients often send none), with
 * Fastify's prototype-poisoning protection, and refused with 400 when nested too deeply.
 */
export function registerJsonBody(app: FastifyInstance): void {
  const parse = app.getDefaultJsonParser("error", "error");
  const parser = (request: Parameters<typeof parse>[0], body: string, done: (err: Error | null, value?: unknown) => void): void => {
    // A body too short to nest deeper than the limit is parsed as is (no check, no closure).
    if (body.length <= 2 * MAX_JSON_DEPTH) {
      parse(request, body, done);
      return;
    }
    parse(request, body, (err, value) => {
      if (err) return done(err);
      // Nesting deeper than the limit takes more than twice as many characters (each level opens and closes).
      if (nestsDeeperThan(value, MAX_JSON_DEPTH)) return done(new P2PError("BAD_REQUEST", `body nests deeper than ${MAX_JSON_DEPTH} levels`));
      done(null, value);
    });
  };
  app.removeContentTypeParser("application/json");
  app.addContentTypeParser("application/json", { parseAs: "string" }, parser);
  app.addContentTypeParser("*", { parseAs: "string" }, parser);
}
