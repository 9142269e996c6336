// The dashboard: sign in, then one store fed by the event stream, and one view per tab.
import { html, render, useState, useEffect, useMemo } from "./lib.js";
import { session, signOut } from "./api.js";
import { ClusterStore } from "./store.js";
import { EventStream } from "./event-stream.js";
import { SignIn } from "./views/signin.js";
import { Header } from "./views/header.js";
import { Overview } from "./views/overview.js";
import { NodesView } from "./views/nodes.js";
import { ServicesMatrix } from "./views/services.js";
import { MetricsView } from "./views/metrics.js";
import { ConsoleView } from "./views/console.js";
import { TimelineView } from "./views/timeline.js";
import { DeploymentsView } from "./views/deployments.js";
import { AdminView } from "./views/admin.js";

const TABS = [
  ["overview", "Overview", Overview],
  ["nodes", "Nodes", NodesView],
  ["services", "Services", ServicesMatrix],
  ["metrics", "Metrics", MetricsView],
  ["console", "Console", ConsoleView],
  ["timeline", "Timeline", TimelineView],
  ["deployments", "Deployments", DeploymentsView],
  ["admin", "Admin", AdminView, "admin"],
];

/**
 * A tab hidden this long gives its stream back: browsers allow only 6 connections per host
 * (HTTP/1.1), so forgotten tabs must not starve the visible ones. Visible again → resume by id.
 */
const HIDDEN_RELEASE_MS = 60_000;

function useStore(store) {
  const [, setVersion] = useState(0);
  useEffect(() => store.subscribe(setVersion), [store]);
}

function Dashboard({ role, onSignOut }) {
  const store = useMemo(() => new ClusterStore(), []);
  const [tab, setTab] = useState("overview");
  useStore(store);
  useEffect(() => {
    store.load();
    const stream = new EventStream("/cluster/events", (e) => store.onEvent(e), (s) => {
      store.setConnection(s);
      if (s === "unauthorized") onSignOut("Your session ended; sign in again.");
    }).start();
    let hiddenTimer = null;
    const onVisibility = () => {
      clearTimeout(hiddenTimer);
      if (document.visibilityState !== "hidden") return stream.start();
      hiddenTimer = setTimeout(() => {
        stream.stop();
        store.setConnection("paused");
      }, HIDDEN_RELEASE_MS);
    };
    document.addEventListener("visibilitychange", onVisibility);
    return () => {
      clearTimeout(hiddenTimer);
      document.removeEventListener("visibilitychange", onVisibility);
      stream.stop();
    };
  }, [store]);
  const tabs = TABS.filter(([, , , needs]) => !needs || needs === role);
  const View = (tabs.find(([id]) => id === tab) ?? tabs[0])[2];
  return html`
    <${Header} store=${store} role=${role} onSignOut=${() => onSignOut(null)} />
    <nav class="tabs" role="tablist">
      ${tabs.map(([id, label]) => html`<button key=${id} role="tab" data-tab=${id} aria-selected=${id === tab} class=${id === tab ? "active" : ""} onClick=${() => setTab(id)}>${label}</button>`)}
    </nav>
    <main><${View} store=${store} role=${role} /></main>
  `;
}

function App() {
  const [current, setCurrent] = useState(session());
  const [notice, setNotice] = useState(null);
  if (!current) return html`<${SignIn} notice=${notice} onSignedIn=${(s) => { setNotice(null); setCurrent(s); }} />`;
  const out = (message) => {
    signOut();
    setNotice(message);
    setCurrent(null);
  };
  return html`<${Dashboard} role=${current.role} onSignOut=${out} />`;
}

render(html`<${App} />`, document.getElementById("app"));
