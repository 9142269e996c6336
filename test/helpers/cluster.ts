import { request, testToken } from "./http.js";
import { waitFor, type RunningNode } from "./launcher.js";

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
