import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type Socket } from "node:net";
import { join } from "node:path";
import { REPO_ROOT, startNode, stopAll, waitFor, type RunningNode } from "../helpers/launcher.js";
import { request, testToken } from "../helpers/http.js";

let node: RunningNode;
let token: string;

beforeAll(async () => {
  node = await startNode({ args: ["--services-dir", join(REPO_ROOT, "test/fixtures/hangup-services")] });
  token = await testToken("client");
});
afterAll(stopAll);

const status = async () => (await request<{ result: { running: number; aborted: string[] } }>(`${node.url}/rpc/hangup_svc/status`, { method: "POST", token, body: {} })).body.result;

/** One keep-alive connection: sends a call and resolves with the raw answer once it is whole. */
function send(socket: Socket, method: string): Promise<string> {
  const body = "{}";
  socket.write(`POST /rpc/hangup_svc/${method} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
  return new Promise((resolve) => {
    let got = "";
    const onData = (chunk: Buffer) => {
      got += chunk.toString();
      const head = got.indexOf("\r\n\r\n");
      const length = /content-length: (\d+)/i.exec(got);
      if (head >= 0 && length && got.length >= head + 4 + Number(length[1])) {
        socket.off("data", onData);
        resolve(got);
      }
    };
    socket.on("data", onData);
  });
}

describe("an HTTP client that hangs up", () => {
  it("cancels its call still running (this.call.signal), not the calls its connection already answered", async () => {
    const socket = connect(node.port, "127.0.0.1");
    socket.on("error", () => undefined);
    // Calls answered first on the same keep-alive connection are not touched by its close.
    expect(await send(socket, "status")).toMatch(/^HTTP\/1\.1 200/);
    expect(await send(socket, "status")).toMatch(/^HTTP\/1\.1 200/);
    void send(socket, "hold");
    await waitFor(async () => (await status()).running === 1, 10_000, () => "the held call to start");
    socket.destroy();
    await waitFor(async () => (await status()).aborted.length === 1, 10_000, () => "the held call to see its client go away");
    expect(await status()).toEqual({ running: 0, aborted: ["the client went away"] });
    // A connection that closes once its call was answered cancels nothing.
    const other = connect(node.port, "127.0.0.1");
    other.on("error", () => undefined);
    expect(await send(other, "status")).toMatch(/^HTTP\/1\.1 200/);
    other.destroy();
    await new Promise((r) => setTimeout(r, 200));
    expect((await status()).aborted).toEqual(["the client went away"]);
  });
});
