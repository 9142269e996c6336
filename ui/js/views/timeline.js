import { html, useState } from "../lib.js";
import { time } from "../format.js";

const GROUPS = { all: () => true, membership: (k) => k.startsWith("member") || k === "leader", deployment: (k) => k === "deployment" || k.startsWith("service") };

/** Membership, leader, service and deployment events as they came, newest first. */
export function TimelineView({ store }) {
  const [group, setGroup] = useState("all");
  const rows = store.timeline.filter((e) => GROUPS[group](e.kind));
  return html`
    <section class="card">
      <div class="card-head">
        <h2>Timeline <span class="muted">since this page opened</span></h2>
        <div class="segmented">${Object.keys(GROUPS).map((g) => html`<button key=${g} class=${g === group ? "active" : ""} onClick=${() => setGroup(g)}>${g}</button>`)}</div>
      </div>
      ${rows.length === 0
        ? html`<p class="empty-state">Nothing happened yet. Start or stop a node and it shows here.</p>`
        : html`<ol class="timeline" data-testid="timeline">${rows.map((e) => html`<li key=${e.id} class=${`kind-${e.kind.replace(/\s+/g, "-")}`}>
            <time>${time(e.time)}</time><span class="kind">${e.kind}</span><span>${e.text}</span></li>`)}</ol>`}
    </section>
  `;
}
