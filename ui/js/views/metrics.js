import { html, useState } from "../lib.js";
import { hitRatio, num } from "../format.js";
import { TOTAL } from "../history.js";
import { Chart } from "./chart.js";

const ms = (v) => `${+(+v).toFixed(v < 10 ? 1 : 0)} ms`;
const perS = (v) => `${+(+v).toFixed(v < 10 ? 2 : 0)}/s`;

export function ClusterCharts({ store }) {
  const h = store.history;
  const busiest = h.busiest(5);
  return html`
    <div class="charts">
      <${Chart} title="Calls/s and errors/s (cluster)" testid="chart-calls" history=${h} version=${store.version}
        yFormat=${perS} series=${[{ label: "calls/s", key: TOTAL, field: "calls_per_s" }, { label: "errors/s", key: TOTAL, field: "errors_per_s", stroke: "#ef4444" }]} />
      <${Chart} title="p99 latency of the busiest methods" testid="chart-p99" history=${h} version=${store.version}
        yFormat=${ms} series=${busiest.map((k) => ({ label: k, key: k, field: "p99_ms" }))} />
      <${Chart} title="Cache hit ratio" testid="chart-cache" history=${h} version=${store.version}
        yFormat=${(v) => `${Math.round(v * 100)}%`} series=${[{ label: "hit ratio", key: TOTAL, field: "hit_ratio", stroke: "#14b8a6" }]} />
    </div>
  `;
}

function MethodCharts({ store, method }) {
  const h = store.history;
  return html`
    <div class="charts two">
      <${Chart} title=${`${method}: calls/s and errors/s`} testid="chart-method-calls" history=${h} version=${store.version} yFormat=${perS}
        series=${[{ label: "calls/s", key: method, field: "calls_per_s" }, { label: "errors/s", key: method, field: "errors_per_s", stroke: "#ef4444" }]} />
      <${Chart} title=${`${method}: latency`} testid="chart-method-latency" history=${h} version=${store.version} yFormat=${ms}
        series=${[{ label: "p50", key: method, field: "p50_ms", stroke: "#22c55e" }, { label: "p99", key: method, field: "p99_ms", stroke: "#f59e0b" }]} />
    </div>
  `;
}

/** Per service and method: figures of the last minute, and charts of the last 15 minutes. */
export function MetricsView({ store }) {
  const [selected, setSelected] = useState(null);
  const [text, setText] = useState("");
  const m = store.metrics;
  const rows = (m?.services ?? [])
    .map((r) => ({ ...r, key: `${r.service}.${r.method}` }))
    .filter((r) => !text || r.key.toLowerCase().includes(text.toLowerCase()))
    .sort((a, b) => b.calls_per_s - a.calls_per_s || a.key.localeCompare(b.key));
  const method = selected ?? rows[0]?.key ?? null;
  return html`
    <section class="card">
      <div class="card-head">
        <h2>Cluster</h2>
        <div class="stats inline">
          <span>cache hit ratio <b data-testid="cache-hit-ratio">${hitRatio(m?.cache)}</b></span>
          <span>hits ${num(m?.cache?.hits)} · misses ${num(m?.cache?.misses)}</span>
          <span class="muted">figures over the last ${m?.window_s ?? 60} s</span>
        </div>
      </div>
      <${ClusterCharts} store=${store} />
    </section>
    <section class="card">
      <div class="card-head">
        <h2>Methods <span class="muted">${rows.length}</span></h2>
        <input type="search" placeholder="filter methods" value=${text} onInput=${(e) => setText(e.target.value)} />
      </div>
      ${method ? html`<${MethodCharts} store=${store} method=${method} />` : null}
      ${rows.length === 0
        ? html`<p class="empty-state">No calls yet. Call a method (Console tab) and its figures appear here.</p>`
        : html`<div class="table-wrap short"><table class="methods" data-testid="methods-table">
            <thead><tr><th>Method</th><th>calls/s</th><th>errors/s</th><th>p50</th><th>p99</th></tr></thead>
            <tbody>${rows.map((r) => html`<tr key=${r.key} data-method=${r.key} class=${r.key === method ? "selected" : ""} onClick=${() => setSelected(r.key)}>
              <td class="mono">${r.key}</td><td class="num">${num(r.calls_per_s, 2)}</td><td class=${`num ${r.errors_per_s > 0 ? "bad" : ""}`}>${num(r.errors_per_s, 2)}</td><td class="num">${num(r.p50_ms)} ms</td><td class="num">${num(r.p99_ms)} ms</td>
            </tr>`)}</tbody>
          </table></div>`}
    </section>
  `;
}
