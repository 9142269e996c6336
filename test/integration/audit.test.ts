import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { startNode, stopAll, TEST_SECRETS, waitFor, type RunningNode } from "../helpers/launcher.js";
import { request } from "../helpers/http.js";
import { deploy } from "../helpers/deploy.js";

vi.setConfig({ testTimeout: 120_000 });

let node: RunningNode;
let token: string;

interface AuditRecord {
  who: string;
  credential?: string;
  from?: string;
  action: string;
  at: string;
  service?: string;
}

function records(): AuditRecord[] {
  return node
    .output()
    .split("\n")
    .filter((line) => line.includes('"audit":'))
    .map((line) => (JSON.parse(line) as { audit: AuditRecord }).audit);
}

beforeAll(async () => {
  node = await startNode({ nodeId: "audit-1" });
  const res = await request<{ access_token: string }>(`${node.url}/auth/token`, { body: { node_id: "alice", api_key: TEST_SECRETS.P2P_API_KEY } });
  token = res.body.access_token;
});
afterAll(stopAll);

describe("audit trail", () => {
  it("records every admin action with who, the credential behind the token, what, when and from where — and no secret", async () => {
    const started = Date.now();
    expect((await request(`${node.url}/admin/broadcast`, { token, body: { service: "system", method: "health_check", params: { password: "hunter2" } } })).status).toBe(200);
    expect((await request(`${node.url}/admin/cache/invalidate`, { token, body: { service: "example_service", method: "hello" } })).status).toBe(200);
    expect((await deploy(node, "greeter", "greeter")).status).toBe(202);
    expect((await request(`${node.url}/admin/deployments/greeter`, { method: "DELETE", token })).status).toBe(202);

    await waitFor(() => records().some((r) => r.action === "undeploy"), 5_000, () => "the undeploy is recorded");
    const byAction = new Map(records().map((r) => [r.action, r]));
    expect(byAction.get("broadcast")).toMatchObject({ who: "alice", credential: "api-key", from: "127.0.0.1", service: "system", method: "health_check" });
    expect(byAction.get("cache.invalidate")).toMatchObject({ who: "alice", credential: "api-key", from: "127.0.0.1", service: "example_service", method: "hello" });
    expect(byAction.get("artifact.upload")).toMatchObject({ who: "test", credential: "jwt-secret", from: "127.0.0.1" });
    expect(byAction.get("deploy")).toMatchObject({ who: "test", credential: "jwt-secret", service: "greeter" });
    expect(byAction.get("undeploy")).toMatchObject({ who: "alice", credential: "api-key", service: "greeter" });
    for (const r of records()) expect(Date.parse(r.at)).toBeGreaterThanOrEqual(started - 1000);

    const output = node.output();
    for (const secret of [token, TEST_SECRETS.P2P_API_KEY, TEST_SECRETS.P2P_JWT_SECRET, TEST_SECRETS.P2P_CLUSTER_KEY, "hunter2"]) expect(output).not.toContain(secret);
  });
});
