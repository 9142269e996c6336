import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { REPO_ROOT, startNode, stopAll, waitFor, type RunningNode } from "../helpers/launcher.js";
import { request, testToken, type JsonResponse } from "../helpers/http.js";
import { waitConverged } from "../helpers/cluster.js";
import { openSocket, parseAnswer, rawExchange, type RawAnswer } from "../helpers/raw-http.js";
import { readFileSync } from "node:fs";

/** Resident memory of a process (Linux). */
const rssMiB = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? NaN) / 1024;

const HOSTILE = join(REPO_ROOT, "test/fixtures/hostile-services");

let coord: RunningNode;
let worker: RunningNode;
let admin: string;

beforeAll(async () => {
  coord = await startNode({ nodeId: "h-c", args: ["--services-dir", HOSTILE] });
  worker = await startNode({ role: "worker", nodeId: "h-w", args: ["--coord", `127.0.0.1:${coord.port}`, "--services-dir", HOSTILE] });
  await waitConverged([coord, worker]);
  admin = await testToken("admin");
});
afterAll(stopAll);

const rpc = (node: RunningNode, path: string, init: Parameters<typeof request>[1] = {}) => request(`${node.url}/rpc/${path}`, { method: "POST", token: admin, ...init });

/** The contract's error envelope with this status and code, nothing else about it assumed. */
function expectError(res: JsonResponse | RawAnswer | undefined, status: number, code: string): void {
  expect(res).toBeDefined();
  const body = (res && "json" in res ? res.json : res?.body) as { id?: unknown; error?: { code?: unknown; message?: unknown } } | undefined;
  expect(res!.status).toBe(status);
  expect(body).toHaveProperty("id");
  expect(body?.error?.code).toBe(code);
  expect(typeof body?.error?.message).toBe("string");
  expect(JSON.stringify(body)).not.toMatch(/\bat .*\(.*:\d+:\d+\)|FST_ERR/);
}

const nested = (depth: number) => "[".repeat(depth) + "]".repeat(depth);

/** Nothing in either node's log is an error or a stack trace. */
function expectQuietLogs(): void {
  for (const node of [coord, worker]) {
    const out = node.output();
    expect(out).not.toMatch(/"level":50/);
    expect(out).not.toMatch(/"stack"|Maximum call stack/);
  }
}

describe("hostile input gets the contract's codes", () => {
  it("5,000-deep params sent to a remote node, and 100k-deep to a cached method → 400", async () => {
    const remote = await rpc(coord, "hostile/echo?node=h-w", { rawBody: `{"params":{"x":${nested(5000)}},"id":"deep"}` });
    expectError(remote, 400, "BAD_REQUEST");
    const cached = await rpc(coord, "hostile/cached_echo", { rawBody: `{"params":{"x":${nested(100_000)}}}` });
    expectError(cached, 400, "BAD_REQUEST");
    // Reasonable nesting still travels.
    const fine = await rpc(coord, "hostile/echo?node=h-w", { rawBody: `{"params":{"x":${nested(50)}},"id":"ok"}` });
    expect(fine.status).toBe(200);
    expect(fine.headers.get("x-p2p-node")).toBe("h-w");
  });

  it("60,000 extra keys against additionalProperties:false → a small 400 INVALID_PARAMS", async () => {
    const params: Record<string, number> = { a: 1 };
    for (let i = 0; i < 60_000; i++) params[`k${i}`] = i;
    for (const node of ["h-c", "h-w"]) {
      const res = await rpc(coord, `hostile/strict?node=${node}`, { body: { params, id: 7 } });
      expectError(res, 400, "INVALID_PARAMS");
      expect(JSON.stringify(res.body).length).toBeLessThan(4096);
      expect((res.body as { id: unknown }).id).toBe(7);
    }
  });

  it("params: null → 400 INVALID_PARAMS", async () => {
    expectError(await rpc(coord, "hostile/echo", { body: { params: null, id: 1 } }), 400, "INVALID_PARAMS");
  });

  it("malformed and long URLs, 70 KB headers, bad framing and non-HTTP bytes → the envelope, 400", async () => {
    const head = (path: string, extra = "") => `GET ${path} HTTP/1.1\r\nHost: x\r\n${extra}Connection: close\r\n\r\n`;
    const cases = [
      head("/rpc/%E0%A4%A/x"),
      head(`/health?${"a".repeat(20_000)}`),
      head(`/rpc/${"s".repeat(20_000)}/m`),
      head("/health", `X-Big: ${"a".repeat(70_000)}\r\n`),
      "POST /auth/token HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n{}",
      "POST /auth/token HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n{}",
      "HELLO THERE\r\n\r\n",
      "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not http at all\r\n\r\n",
    ];
    for (const bytes of cases) {
      const { answer } = await rawExchange(coord.port, bytes);
      expectError(answer, 400, "BAD_REQUEST");
    }
    expectError(await rpc(coord, "hostile/echo", { rawBody: "" }), 400, "BAD_REQUEST");
    expectError(await rpc(coord, "hostile/echo", { rawBody: "{nope" }), 400, "BAD_REQUEST");
  });

  it("error codes named like Object.prototype properties, from a service or a peer → INTERNAL, no error log", async () => {
    for (const code of ["toString", "constructor", "__proto__", "hasOwnProperty", "valueOf"]) {
      for (const asP2p of [false, true]) {
        for (const node of ["h-c", "h-w"]) {
          const res = await rpc(coord, `hostile/throw_code?node=${node}`, { body: { params: { code, as_p2p: asP2p } } });
          expectError(res, 500, "INTERNAL");
          expect((res.body as { error: { message: string } }).error.message).toBe(`thrown with code ${code}`);
        }
      }
    }
  });

  it("after all that both nodes are up and logged no error and no stack", async () => {
    for (const node of [coord, worker]) expect((await request(`${node.url}/health`)).status).toBe(200);
    expectQuietLogs();
  });
});

/** Sends `head` then a byte a second; resolves with the node's answer and when it came. */
async function dripUntilAnswered(port: number, head: string, byte: string): Promise<{ answer: RawAnswer | undefined; afterMs: number }> {
  const socket = await openSocket(port);
  const started = Date.now();
  socket.on("error", () => undefined);
  socket.write(head);
  const drip = setInterval(() => socket.writable && socket.write(byte), 1_000);
  let received = "";
  socket.on("data", (d: Buffer) => (received += d.toString("latin1")));
  await new Promise((resolve) => socket.once("close", resolve));
  clearInterval(drip);
  return { answer: parseAnswer(received), afterMs: Date.now() - started };
}

describe("receive time-outs are sized for receiving", () => {
  it("a slow sender is answered 400 and cut: headers after 10 s, a whole request after 30 s", async () => {
    const [headers, body] = await Promise.all([
      dripUntilAnswered(coord.port, "GET /health HTTP/1.1\r\nHost: x\r\n", "X"),
      dripUntilAnswered(coord.port, "POST /auth/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{", " "),
    ]);
    expectError(headers.answer, 400, "BAD_REQUEST");
    expect(headers.afterMs).toBeGreaterThan(9_000);
    expect(headers.afterMs).toBeLessThan(20_000);
    expectError(body.answer, 400, "BAD_REQUEST");
    expect(body.afterMs).toBeGreaterThan(29_000);
    expect(body.afterMs).toBeLessThan(45_000);
  }, 60_000);
});

describe("bounded shutdown", () => {
  it("SIGTERM exits 0 within the grace whatever clients do; calls still running are answered 503", async () => {
    const node = await startNode({ nodeId: "h-stop", args: ["--services-dir", HOSTILE] });
    // A call far longer than the grace, with a deadline far longer still.
    const long = rpc(node, "hostile/sleep", { body: { params: { ms: 40_000 }, id: "long" }, headers: { "x-p2p-timeout-ms": "600000" } });
    // 100 slow senders: each announces 100 kB and sends a byte a second.
    const rssBefore = rssMiB(node.pid);
    const slow = await Promise.all(Array.from({ length: 100 }, () => openSocket(node.port)));
    for (const s of slow) {
      s.on("error", () => undefined);
      s.write("POST /auth/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{");
    }
    const drip = setInterval(() => slow.forEach((s) => s.writable && s.write(" ")), 1_000);
    // An idle keep-alive connection.
    const idle = await openSocket(node.port);
    idle.on("error", () => undefined);
    idle.write("GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
    await waitFor(() => node.output().includes("sleep started"), 10_000, () => "the long call to start");
    expect(rssMiB(node.pid) - rssBefore).toBeLessThan(50);

    const started = Date.now();
    node.signal("SIGTERM");
    const [code, answer] = await Promise.all([node.exited, long]);
    clearInterval(drip);
    const tookMs = Date.now() - started;
    expect(code).toBe(0);
    expect(tookMs).toBeLessThan(15_000);
    expectError(answer, 503, "UNAVAILABLE");
    expect((answer.body as { id: unknown }).id).toBe("long");
    await waitFor(() => slow.every((s) => s.destroyed || s.readableEnded), 5_000, () => "every slow sender to be closed");
  }, 60_000);
});
