import { describe, expect, it } from "vitest";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { REPO_ROOT } from "../../helpers/launcher.js";

// The dashboard's DOM-free modules are plain browser ES modules; they run in Node as they are.
const load = async <T>(file: string): Promise<T> => (await import(pathToFileURL(join(REPO_ROOT, "ui/js", file)).href)) as T;

interface SseEvent {
  id: string | null;
  type: string;
  data: string;
}
const { createSseParser } = await load<{ createSseParser(): { feed(chunk: string): SseEvent[] } }>("event-stream.js");

type Snapshot = { generated_at: string; services: { service: string; method: string; calls_per_s: number; errors_per_s: number; p50_ms: number; p99_ms: number }[]; cache?: { hits: number; misses: number; hit_ratio: number } };
interface History {
  length: number;
  push(s: Snapshot): void;
  keys(): string[];
  data(pairs: [string, string][]): (number | null)[][];
  latest(key: string, field: string): number | null;
  busiest(n: number): string[];
}
const { MetricsHistory, TOTAL } = await load<{ MetricsHistory: new (capacity?: number) => History; TOTAL: string }>("history.js");

interface Field {
  name: string;
  kind: string;
  required: boolean;
}
const form = await load<{
  formFields(schema: unknown): Field[] | null;
  paramsFromForm(fields: Field[], values: Record<string, string>): Record<string, unknown>;
  paramsFromText(text: string): Record<string, unknown>;
}>("schema-form.js");

describe("event-stream parser", () => {
  it("parses frames split anywhere, with ids, types, multi-line data and comments", () => {
    const p = createSseParser();
    const text = ": heartbeat\n\nid: 7\nevent: member\ndata: {\"node_id\":\"a\",\ndata: \"state\":\"dead\"}\n\nid: 8\r\nevent: leader\r\ndata: {}\r\n\r\n";
    const events: SseEvent[] = [];
    for (let i = 0; i < text.length; i += 5) events.push(...p.feed(text.slice(i, i + 5)));
    expect(events).toEqual([
      { id: "7", type: "member", data: '{"node_id":"a",\n"state":"dead"}' },
      { id: "8", type: "leader", data: "{}" },
    ]);
  });

  it("keeps the last id for later events and defaults the type to message", () => {
    const p = createSseParser();
    expect(p.feed("id: 3\ndata: x\n\ndata: y\n\n")).toEqual([
      { id: "3", type: "message", data: "x" },
      { id: "3", type: "message", data: "y" },
    ]);
  });
});

const snap = (second: number, calls: number, extra: Snapshot["services"] = []): Snapshot => ({
  generated_at: new Date(Date.UTC(2026, 0, 1, 0, 0, second)).toISOString(),
  services: [{ service: "s", method: "m", calls_per_s: calls, errors_per_s: 0, p50_ms: 1, p99_ms: 2 }, ...extra],
  cache: { hits: 3, misses: 1, hit_ratio: 0.75 },
});

describe("metrics history (15 minutes of 1 s snapshots)", () => {
  it("keeps at most its capacity, oldest first, with gaps where a method was absent", () => {
    const h = new MetricsHistory(4);
    for (let s = 0; s < 6; s++) h.push(snap(s, s, s === 4 ? [{ service: "t", method: "n", calls_per_s: 9, errors_per_s: 1, p50_ms: 3, p99_ms: 4 }] : []));
    expect(h.length).toBe(4);
    const [times, calls, other, total] = h.data([["s.m", "calls_per_s"], ["t.n", "calls_per_s"], [TOTAL, "calls_per_s"]]);
    expect(times.map((t) => t! % 60)).toEqual([2, 3, 4, 5]);
    expect(calls).toEqual([2, 3, 4, 5]);
    expect(other).toEqual([null, null, 9, null]);
    expect(total).toEqual([2, 3, 13, 5]);
    expect(h.latest(TOTAL, "hit_ratio")).toBe(0.75);
    expect(h.busiest(1)).toEqual(["s.m"]);
  });

  it("drops a method not seen for a whole window, so memory stays bounded", () => {
    const h = new MetricsHistory(3);
    h.push(snap(0, 1, [{ service: "gone", method: "x", calls_per_s: 1, errors_per_s: 0, p50_ms: 1, p99_ms: 1 }]));
    for (let s = 1; s <= 4; s++) h.push(snap(s, 1));
    expect(h.keys()).toEqual(["s.m"]);
  });
});

describe("console form from a params schema", () => {
  const schema = {
    type: "object",
    required: ["a"],
    properties: {
      a: { type: "number" },
      n: { type: "integer" },
      name: { type: "string" },
      flag: { type: "boolean" },
      mode: { enum: ["fast", "slow"] },
      tags: { type: "array", items: { type: "string" } },
      opts: { type: "object" },
    },
  };

  it("gives each property an input of its type, and JSON text for the rest", () => {
    const fields = form.formFields(schema)!;
    expect(fields.map((f) => [f.name, f.kind, f.required])).toEqual([
      ["a", "number", true],
      ["n", "integer", false],
      ["name", "string", false],
      ["flag", "boolean", false],
      ["mode", "enum", false],
      ["tags", "json", false],
      ["opts", "json", false],
    ]);
    expect(form.formFields(null)).toBeNull();
    expect(form.formFields({ type: "array" })).toBeNull();
  });

  it("converts values to their types and leaves empty fields out (the node validates)", () => {
    const fields = form.formFields(schema)!;
    expect(form.paramsFromForm(fields, { a: "2.5", n: "", name: "Ada", flag: "false", mode: "slow", tags: '["x"]', opts: "" })).toEqual({ a: 2.5, name: "Ada", flag: false, mode: "slow", tags: ["x"] });
    expect(() => form.paramsFromForm(fields, { tags: "[oops" })).toThrow("tags: not valid JSON");
  });

  it("takes raw JSON params only as an object", () => {
    expect(form.paramsFromText(' {"x": 1} ')).toEqual({ x: 1 });
    expect(form.paramsFromText("")).toEqual({});
    expect(() => form.paramsFromText("[1]")).toThrow("params must be a JSON object");
  });
});
