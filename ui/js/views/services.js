import { html } from "../lib.js";

/** service name → node_id → { version, status, artifact? }, from /cluster/services or, lacking it, /cluster/nodes. */
export function placement(store) {
  const out = new Map();
  if (store.services?.services) {
    for (const s of store.services.services) out.set(s.name, new Map(s.nodes.map((n) => [n.node_id, n])));
    return out;
  }
  for (const node of store.nodes.values()) {
    for (const name of node.services ?? []) {
      if (!out.has(name)) out.set(name, new Map());
      out.get(name).set(node.node_id, { node_id: node.node_id, version: node.service_versions?.[name] ?? "", status: "running" });
    }
    for (const f of node.failed_services ?? []) {
      if (!out.has(f.name)) out.set(f.name, new Map());
      out.get(f.name).set(node.node_id, { node_id: node.node_id, status: "failed", error: f.error });
    }
  }
  return out;
}

function Cell({ entry, nodeState }) {
  if (!entry) return html`<td class="cell empty"></td>`;
  const failed = entry.status === "failed";
  // Other statuses than running/failed are the state of a node that is not alive.
  const cls = failed ? "failed" : !entry.status || entry.status === "running" ? "running" : "down";
  const title = [entry.status, entry.error, entry.artifact && `artifact ${entry.artifact.slice(0, 12)}`].filter(Boolean).join(" — ");
  return html`<td class=${`cell ${cls} node-${nodeState}`} title=${title}>${failed ? "failed" : entry.version || "✓"}</td>`;
}

/** Which service runs where, with versions: mixed versions and failures stand out. */
export function ServicesMatrix({ store }) {
  const map = placement(store);
  const nodes = [...store.nodes.values()].filter((n) => n.state !== "left").sort((a, b) => a.node_id.localeCompare(b.node_id));
  const names = [...map.keys()].sort();
  return html`
    <section class="card">
      <div class="card-head"><h2>Services × nodes <span class="muted">${names.length} services</span></h2></div>
      ${names.length === 0
        ? html`<p class="empty-state">No services known yet.</p>`
        : html`<div class="table-wrap"><table class="matrix" data-testid="services-matrix">
            <thead><tr><th>Service</th>${nodes.map((n) => html`<th key=${n.node_id} class=${`node-${n.state}`} title=${`${n.node_id} (${n.state})`}><span class="vertical mono">${n.node_id}</span></th>`)}</tr></thead>
            <tbody>${names.map((name) => {
              const where = map.get(name);
              const versions = new Set([...where.values()].map((e) => e.version).filter(Boolean));
              return html`<tr key=${name} data-service=${name}>
                <th class="mono">${name}${versions.size > 1 ? html` <span class="badge warn" title="nodes run different versions">mixed versions</span>` : null}</th>
                ${nodes.map((n) => html`<${Cell} key=${n.node_id} entry=${where.get(n.node_id)} nodeState=${n.state} />`)}
              </tr>`;
            })}</tbody>
          </table></div>`}
    </section>
  `;
}
