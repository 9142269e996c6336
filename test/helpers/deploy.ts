import { join } from "node:path";
import { REPO_ROOT, waitFor, type RunningNode } from "./launcher.js";
import { request, testToken } from "./http.js";
import { bundleService, type Bundle } from "../../src/deploy/bundle.js";
import type { DeploymentView, Placement } from "../../src/deploy/types.js";

export const DEPLOY_FIXTURES = join(REPO_ROOT, "test/fixtures/deploy");
const bundles = new Map<string, Promise<Bundle>>();

/** The artifact of a fixture folder (bundled once per test file). */
export function fixtureBundle(name: string): Promise<Bundle> {
  let b = bundles.get(name);
  if (!b) bundles.set(name, (b = bundleService(join(DEPLOY_FIXTURES, name))));
  return b;
}

export async function upload(node: RunningNode, bundle: Bundle, headers: Record<string, string> = {}): Promise<number> {
  const res = await fetch(`${node.url}/admin/artifacts/${bundle.sha256}`, { method: "PUT", headers: { authorization: `Bearer ${await testToken("admin")}`, "content-type": "application/gzip", ...headers }, body: bundle.archive });
  return res.status;
}

export async function deploy(node: RunningNode, service: string, fixture: string, placement: Placement = {}): Promise<{ status: number; body: Record<string, unknown>; sha256: string }> {
  const bundle = await fixtureBundle(fixture);
  const uploaded = await upload(node, bundle);
  if (uploaded !== 201) throw new Error(`upload answered ${uploaded}`);
  const res = await request(`${node.url}/admin/deployments`, { token: await testToken("admin"), body: { service, artifact: bundle.sha256, placement } });
  return { status: res.status, body: res.body, sha256: bundle.sha256 };
}

export async function deploymentOn(node: RunningNode, service: string): Promise<DeploymentView | undefined> {
  const res = await request<{ deployments?: DeploymentView[] }>(`${node.url}/admin/deployments/${service}`, { token: await testToken("admin") });
  return res.body.deployments?.[0];
}

export async function waitForDeployment(node: RunningNode, service: string, check: (d: DeploymentView) => boolean, timeoutMs = 30_000): Promise<DeploymentView> {
  let last: DeploymentView | undefined;
  await waitFor(async () => {
    last = await deploymentOn(node, service);
    return last !== undefined && check(last);
  }, timeoutMs, () => `deployment ${service} on ${node.nodeId}: ${JSON.stringify(last)}`);
  return last!;
}

export async function callService(node: RunningNode, path: string, params: Record<string, unknown> = {}): Promise<{ status: number; node: string | null; body: Record<string, unknown> }> {
  const res = await request(`${node.url}/rpc/${path}`, { token: await testToken("admin"), body: { params } });
  return { status: res.status, node: res.headers.get("x-p2p-node"), body: res.body };
}

/** Calls `path` from `from` in `parallel` loops until stop() (bounded by count and time); keeps every failure and what `pick` takes of each result. */
export function loadLoop(from: RunningNode, path: string, options: { params?: Record<string, unknown>; parallel?: number; maxCalls?: number; pick?: (result: Record<string, unknown>) => unknown } = {}) {
  const { params = { ms: 20 }, parallel = 4, maxCalls = 5_000, pick = (r) => r.version } = options;
  const failures: string[] = [];
  const seen = new Set<unknown>();
  let calls = 0;
  let stopped = false;
  const until = Date.now() + 90_000;
  const loops = Array.from({ length: parallel }, async () => {
    while (!stopped && calls < maxCalls && Date.now() < until) {
      calls += 1;
      const res = await callService(from, path, params);
      if (res.status !== 200) failures.push(`${res.status} ${JSON.stringify(res.body)}`);
      else seen.add(pick(res.body.result as Record<string, unknown>));
    }
  });
  return { failures, seen, calls: () => calls, stop: async () => ((stopped = true), await Promise.all(loops)) };
}
