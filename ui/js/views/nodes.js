import { html, useState } from "../lib.js";
import { bytes, duration, num } from "../format.js";

const STATE_ORDER = { alive: 0, suspect: 1, dead: 2, left: 3 };

function matches(node, text) {
  if (!text) return true;
  const hay = [node.node_id, node.role, node.state, node.address, node.version, ...Object.entries(node.labels ?? {}).map(([k, v]) => `${k}=${v}`)].join(" ").toLowerCase();
  return text.toLowerCase().split(/\s+/).every((word) => hay.includes(word));
}

function Labels({ labels }) {
  const entries = Object.entries(labels ?? {});
  if (entries.length === 0) return html`<span class="muted">–</span>`;
  return entries.map(([k, v]) => html`<span key=${k} class="chip">${k}=${v}</span>`);
}

function Row({ node, m, leader, me }) {
  const p = node.state === "alive" ? m?.process : undefined;
  // Live figures when the node answered /cluster/metrics; else its last gossiped load.
  const load = p ? { inflight: p.inflight, lag_ms: num(p.loop_lag_ms) } : node.state === "alive" ? node.load : undefined;
  return html`
    <tr data-node-id=${node.node_id} data-state=${node.state} class=${`state-${node.state}`}>
      <td><span class=${`dot ${node.state}`}></span><span class="state-text">${node.state}</span></td>
      <td class="mono">${node.node_id}${node.node_id === leader ? html` <span class="badge leader" title="leader">leader</span>` : null}${node.node_id === me ? html` <span class="badge" title="this page talks to this node">this node</span>` : null}${m?.stale ? html` <span class="badge warn" title=${m.error ?? "did not answer in time"}>stale</span>` : null}</td>
      <td>${node.role}</td>
      <td class="mono">${node.address}</td>
      <td><${Labels} labels=${node.labels} /></td>
      <td>${node.version ?? "–"}</td>
      <td class="num">${node.state === "alive" ? duration(p?.uptime_s ?? node.uptime_s) : "–"}</td>
      <td class="num" title="in-flight calls / event-loop lag">${load ? `${load.inflight} · ${load.lag_ms} ms` : "–"}</td>
      <td class="num">${p ? `${num(p.cpu_pct)}%` : "–"}</td>
      <td class="num">${p ? bytes(p.rss_bytes) : "–"}</td>
    </tr>
  `;
}

/** Every node with its state; filtered by free text and state. */
export function NodesTable({ store }) {
  const [text, setText] = useState("");
  const [state, setState] = useState("");
  const leader = store.status?.leader;
  const all = [...store.nodes.values()];
  const rows = all
    .filter((n) => (!state || n.state === state) && matches(n, text))
    .sort((a, b) => (STATE_ORDER[a.state] ?? 9) - (STATE_ORDER[b.state] ?? 9) || (a.role === b.role ? 0 : a.role === "coordinator" ? -1 : 1) || a.node_id.localeCompare(b.node_id));
  return html`
    <section class="card">
      <div class="card-head">
        <h2>Nodes <span class="muted">${rows.length === all.length ? all.length : `${rows.length} of ${all.length}`}</span></h2>
        <div class="filters">
          <input type="search" placeholder="filter: id, role, label, version…" value=${text} onInput=${(e) => setText(e.target.value)} data-testid="node-filter" />
          <select value=${state} onChange=${(e) => setState(e.target.value)} data-testid="state-filter">
            <option value="">any state</option>
            ${["alive", "suspect", "dead", "left"].map((s) => html`<option key=${s} value=${s}>${s}</option>`)}
          </select>
        </div>
      </div>
      <div class="table-wrap">
        <table class="nodes" data-testid="nodes-table">
          <thead><tr><th>State</th><th>Node</th><th>Role</th><th>Address</th><th>Labels</th><th>Version</th><th>Uptime</th><th>Load</th><th>CPU</th><th>Memory</th></tr></thead>
          <tbody>${rows.map((n) => html`<${Row} key=${n.node_id} node=${n} m=${store.nodeMetrics.get(n.node_id)} leader=${leader} me=${store.me} />`)}</tbody>
        </table>
      </div>
    </section>
  `;
}

export function NodesView({ store }) {
  return html`<${NodesTable} store=${store} />`;
}
