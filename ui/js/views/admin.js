import { html, useState } from "../lib.js";
import { request } from "../api.js";
import { json } from "../format.js";
import { paramsFromText } from "../schema-form.js";
import { Confirm } from "./confirm.js";

function ErrorLine({ res }) {
  const e = res?.body?.error;
  return e ? html`<p class="error" data-testid="admin-error"><b>${e.code}</b> ${e.message}</p>` : null;
}

function ServiceMethodPicker({ catalogue, service, method, setService, setMethod, optionalMethod }) {
  const s = catalogue.find((x) => x.name === service);
  return html`
    <div class="row">
      <div class="field"><label>service</label>
        <select name="service" value=${service} onChange=${(e) => { setService(e.target.value); setMethod(""); }}>
          <option value="">choose…</option>${catalogue.map((x) => html`<option key=${x.name} value=${x.name}>${x.name}</option>`)}
        </select></div>
      <div class="field"><label>method</label>
        <select name="method" value=${method} onChange=${(e) => setMethod(e.target.value)}>
          <option value="">${optionalMethod ? "every method" : "choose…"}</option>${(s?.methods ?? []).map((m) => html`<option key=${m.name} value=${m.name}>${m.name}</option>`)}
        </select></div>
    </div>
  `;
}

function Broadcast({ catalogue, ask }) {
  const [service, setService] = useState("");
  const [method, setMethod] = useState("");
  const [text, setText] = useState("{}");
  const [res, setRes] = useState(null);
  const [local, setLocal] = useState(null);
  const go = () => {
    let params;
    try {
      params = paramsFromText(text);
    } catch (err) {
      return setLocal(err.message);
    }
    setLocal(null);
    ask(`Broadcast ${service}.${method}?`, html`<p>Runs <b class="mono">${service}.${method}</b> on <b>every alive node</b> hosting ${service}.</p>`, async () =>
      setRes(await request("POST", "/admin/broadcast", { body: { service, method, params } })));
  };
  const results = res?.ok ? Object.entries(res.body.results ?? {}) : [];
  return html`
    <section class="card" data-testid="broadcast">
      <h2>Broadcast</h2>
      <p class="muted">Run one method on every node that hosts its service; see each node's answer.</p>
      <${ServiceMethodPicker} catalogue=${catalogue} service=${service} method=${method} setService=${setService} setMethod=${setMethod} />
      <div class="field"><label>params (JSON object)</label><textarea rows="3" class="mono" value=${text} onInput=${(e) => setText(e.target.value)}></textarea></div>
      <button class="danger" disabled=${!service || !method} onClick=${go} data-testid="broadcast-button">Broadcast…</button>
      ${local ? html`<p class="error">${local}</p>` : null}
      <${ErrorLine} res=${res} />
      ${res?.ok ? html`<p><b>${res.body.ok}</b> ok, <b>${res.body.failed}</b> failed</p>
        <table data-testid="broadcast-results"><thead><tr><th>Node</th><th>Answer</th></tr></thead><tbody>
          ${results.map(([node, r]) => html`<tr key=${node}><td class="mono">${node}</td><td>${r.error ? html`<b class="bad">${r.error.code}</b> ${r.error.message}` : html`<pre class="mono inline">${json(r.result)}</pre>`}</td></tr>`)}
        </tbody></table>` : null}
    </section>
  `;
}

function Invalidate({ catalogue, ask }) {
  const [service, setService] = useState("");
  const [method, setMethod] = useState("");
  const [res, setRes] = useState(null);
  const what = method ? `${service}.${method}` : `every method of ${service}`;
  const go = () =>
    ask("Invalidate cached results?", html`<p>Drops the cached results of <b class="mono">${what}</b> on every node.</p>`, async () =>
      setRes(await request("POST", "/admin/cache/invalidate", { body: method ? { service, method } : { service } })));
  return html`
    <section class="card" data-testid="invalidate">
      <h2>Cache invalidation</h2>
      <p class="muted">Cached results of a service (or one method) disappear from every node within a second.</p>
      <${ServiceMethodPicker} catalogue=${catalogue} service=${service} method=${method} setService=${setService} setMethod=${setMethod} optionalMethod=${true} />
      <button class="danger" disabled=${!service} onClick=${go} data-testid="invalidate-button">Invalidate…</button>
      <${ErrorLine} res=${res} />
      ${res?.ok ? html`<p data-testid="invalidate-result">${res.body.invalidated} entries invalidated on this node; the others follow.</p>` : null}
    </section>
  `;
}

/** Admin actions, each behind a confirmation. Only rendered for admins; the API refuses clients anyway. */
export function AdminView({ store }) {
  const [pending, setPending] = useState(null);
  const catalogue = store.services?.services ?? [];
  const ask = (title, body, action) => setPending({ title, body, action });
  return html`
    <div class="grid two">
      <${Broadcast} catalogue=${catalogue} ask=${ask} />
      <${Invalidate} catalogue=${catalogue} ask=${ask} />
    </div>
    ${pending ? html`<${Confirm} title=${pending.title} onCancel=${() => setPending(null)} onConfirm=${() => { const a = pending.action; setPending(null); a(); }}>${pending.body}</${Confirm}>` : null}
  `;
}
