import { ClientError, send } from "../client.js";
import type { DeploymentView } from "../../deploy/types.js";

const POLL_MS = 500;
const WAIT_LIMIT_MS = 10 * 60_000;

/** Prints each change of the rollout until it is ready (true) or failed (false). */
export async function followRollout(url: string, token: string, service: string, generation: number): Promise<boolean> {
  const until = Date.now() + WAIT_LIMIT_MS;
  let last = "";
  while (Date.now() < until) {
    const { body } = await send<{ deployments: DeploymentView[] }>(url, `/admin/deployments/${service}`, { token });
    const d = body.deployments[0];
    if (!d) throw new ClientError("NOT_FOUND", `deployment ${service} disappeared`);
    if (d.generation !== generation) {
      process.stderr.write(`p2p: CONFLICT: generation ${d.generation} replaced this deploy (another admin deployed ${service} at once)\n`);
      return false;
    }
    const nodes = Object.entries(d.nodes).map(([id, n]) => `${id}=${n.state}`).join(" ");
    const line = `${d.status}  ${nodes}${d.message ? `  (${d.message})` : ""}`;
    if (line !== last) process.stdout.write(`  ${line}\n`);
    last = line;
    if (d.status === "ready" || d.status === "rolled_back") {
      process.stdout.write(`${service} ${d.version ?? ""} is running on ${Object.keys(d.nodes).length} node(s)\n`);
      return true;
    }
    const states = Object.values(d.nodes);
    if (d.message && states.every((n) => n.state === "running")) {
      // Too few nodes match: everything that can run does; the rest waits for matching nodes to join.
      process.stderr.write(`p2p: UNAVAILABLE: ${service} runs on ${states.length} node(s); ${d.message} (it starts on matching nodes that join later)\n`);
      return false;
    }
    if (d.status === "failed") {
      for (const [id, n] of Object.entries(d.nodes)) if (n.error) process.stderr.write(`p2p: ${service} failed on ${id}: ${n.error}\n`);
      process.stderr.write(`p2p: the rollout stopped; every node keeps the version it ran (\`p2p rollback ${service}\` returns all to the previous artifact)\n`);
      return false;
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  process.stderr.write(`p2p: TIMEOUT: ${service} did not finish rolling out in ${WAIT_LIMIT_MS / 60_000} minutes\n`);
  return false;
}
