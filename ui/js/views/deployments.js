import { html, useEffect, useState } from "../lib.js";
import { get } from "../api.js";
import { time } from "../format.js";

function NodeStates({ nodes }) {
  const entries = Object.entries(nodes ?? {});
  if (entries.length === 0) return html`<span class="muted">–</span>`;
  return entries.map(([id, n]) => {
    const state = typeof n === "string" ? n : n.state;
    return html`<span key=${id} class=${`chip dep-${state}`} title=${n.error ?? ""}>${id}: ${state}</span>`;
  });
}

/**
 * Deployments: what the admin API holds (admins), kept current by `deployment` events.
 * A node without deployment support simply shows none.
 */
export function DeploymentsView({ store, role }) {
  const [listed, setListed] = useState(null);
  const eventsSeen = store.deployments.size;
  useEffect(() => {
    if (role !== "admin") return;
    get("/admin/deployments").then((b) => setListed(b.deployments ?? []), () => setListed(null));
  }, [role, eventsSeen]);
  const rows = new Map((listed ?? []).map((d) => [d.service, d]));
  for (const [service, d] of store.deployments) rows.set(service, { ...rows.get(service), ...d });
  const list = [...rows.values()].sort((a, b) => a.service.localeCompare(b.service));
  return html`
    <section class="card">
      <div class="card-head"><h2>Deployments</h2></div>
      ${list.length === 0
        ? html`<p class="empty-state" data-testid="no-deployments">No deployments. Services deployed at run time (p2p deploy) show here with their rollout progress.</p>`
        : html`<div class="table-wrap"><table data-testid="deployments-table">
            <thead><tr><th>Service</th><th>Generation</th><th>Status</th><th>Version / artifact</th><th>Nodes</th><th>Updated</th></tr></thead>
            <tbody>${list.map((d) => html`<tr key=${d.service}>
              <td class="mono">${d.service}</td><td class="num">${d.generation ?? "–"}</td>
              <td><span class=${`pill dep-${d.status}`}>${d.status ?? "–"}</span></td>
              <td class="mono">${d.version ?? ""} ${d.artifact ? String(d.artifact).slice(0, 12) : ""}</td>
              <td><${NodeStates} nodes=${d.nodes} /></td><td>${d.time ? time(d.time) : ""}</td>
            </tr>`)}</tbody></table></div>`}
    </section>
  `;
}
