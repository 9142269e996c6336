import { join } from "node:path";
import { request, testToken } from "./http.js";
import { REPO_ROOT, startNode, waitFor, type RunningNode } from "./launcher.js";

export type States = Record<string, string>;

/** node_id → state as `node` sees the cluster. */
export async function statesSeenBy(node: RunningNode): Promise<States> {
  const res = await request<{ nodes: { node_id: string; state: string }[] }>(`${node.url}/cluster/nodes`, { token: await testToken("client") });
  return Object.fromEntries(res.body.nodes.map((n) => [n.node_id, n.state]));
}

export async function statusOf(node: RunningNode): Promise<{ leader: string | null; members: Record<string, number>; services: Record<string, string[]>; coordinators: string[] }> {
  return (await request(`${node.url}/cluster/status`, { token: await testToken("client") })).body as never;
}

/** Waits until every observer sees `target` in `state`; returns the time it took (ms). */
export async function waitUntilAllSee(observers: RunningNode[], target: string, state: string, timeoutMs: number): Promise<number> {
  const started = Date.now();
  await waitFor(async () => {
    for (const o of observers) if ((await statesSeenBy(o))[target] !== state) return false;
    return true;
  }, timeoutMs, () => `${target} to be ${state} everywhere`);
  return Date.now() - started;
}

/** Waits until every node sees all of `ids` alive. */
export async function waitConverged(nodes: RunningNode[], timeoutMs = 15_000): Promise<void> {
  const ids = nodes.map((n) => n.nodeId);
  await waitFor(async () => {
    for (const n of nodes) {
      const seen = await statesSeenBy(n);
      if (!ids.every((id) => seen[id] === "alive")) return false;
    }
    return true;
  }, timeoutMs, () => `all of ${ids.join(", ")} alive everywhere`);
}

export interface RoutedCluster {
  coord: RunningNode;
  workers: RunningNode[];
}

/**
 * A coordinator without services and workers that host the test worker services
 * (test/fixtures/worker-services), all alive everywhere: every call through the coordinator is routed.
 */
export async function startRoutedCluster(coordId: string, workerIds: string[]): Promise<RoutedCluster> {
  const coord = await startNode({ nodeId: coordId, args: ["--services-dir", join(REPO_ROOT, "test/fixtures/empty-services")] });
  const seed = ["--coord", `127.0.0.1:${coord.port}`, "--services-dir", join(REPO_ROOT, "test/fixtures/worker-services")];
  const workers = await Promise.all(workerIds.map((nodeId) => startNode({ role: "worker", nodeId, args: seed })));
  await waitConverged([coord, ...workers]);
  return { coord, workers };
}
