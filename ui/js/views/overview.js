import { html } from "../lib.js";
import { hitRatio, num } from "../format.js";
import { TOTAL } from "../history.js";
import { ClusterCharts } from "./metrics.js";
import { NodesTable } from "./nodes.js";

function Stat({ label, value, cls = "", testid }) {
  return html`<div class=${`stat ${cls}`}><div class="stat-value" data-testid=${testid}>${value}</div><div class="stat-label">${label}</div></div>`;
}

/** The cluster at a glance: counts, live figures, charts and every node. */
export function Overview({ store }) {
  const counts = store.status?.members ?? {};
  const services = store.services?.services?.length ?? Object.keys(store.status?.services ?? {}).length;
  const h = store.history;
  const errors = h.latest(TOTAL, "errors_per_s");
  return html`
    <div class="stats">
      <${Stat} label="nodes alive" value=${counts.alive ?? 0} cls="good" testid="stat-alive" />
      <${Stat} label="suspect / dead" value=${`${counts.suspect ?? 0} / ${counts.dead ?? 0}`} cls=${counts.suspect || counts.dead ? "bad" : ""} />
      <${Stat} label="services" value=${services} />
      <${Stat} label="calls/s (last minute)" value=${num(h.latest(TOTAL, "calls_per_s"), 2)} testid="stat-calls" />
      <${Stat} label="errors/s" value=${num(errors, 2)} cls=${errors > 0 ? "bad" : ""} />
      <${Stat} label="cache hit ratio" value=${hitRatio(store.metrics?.cache)} />
    </div>
    <section class="card"><${ClusterCharts} store=${store} /></section>
    <${NodesTable} store=${store} />
  `;
}
