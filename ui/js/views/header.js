import { html } from "../lib.js";

const CONNECTION = { live: "live", connecting: "connecting…", retrying: "reconnecting…", unauthorized: "signed out", paused: "paused (tab hidden)" };

export function Header({ store, role, onSignOut }) {
  const s = store.status;
  const counts = s?.members ?? {};
  return html`
    <header class="topbar">
      <div class="brand"><img src="./favicon.svg" alt="" width="22" height="22" /> P2P Core</div>
      <div class="summary">
        <span title="the node this page talks to">via <b>${store.me ?? "…"}</b></span>
        <span>leader <b data-testid="leader">${s?.leader ?? "none"}</b></span>
        <span class="counts">
          <span class="pill alive">${counts.alive ?? 0} alive</span>
          ${counts.suspect ? html`<span class="pill suspect">${counts.suspect} suspect</span>` : null}
          ${counts.dead ? html`<span class="pill dead">${counts.dead} dead</span>` : null}
          ${counts.left ? html`<span class="pill left">${counts.left} left</span>` : null}
        </span>
      </div>
      <div class="who">
        <span class=${`conn ${store.connection}`} data-testid="connection">${CONNECTION[store.connection] ?? store.connection}</span>
        <span class="role-badge" data-testid="role">${role}</span>
        <button class="ghost" onClick=${onSignOut}>Sign out</button>
      </div>
    </header>
    ${store.error ? html`<div class="banner error">${store.error}</div>` : null}
  `;
}
