import { html, useState, useMemo } from "../lib.js";
import { request } from "../api.js";
import { json, num } from "../format.js";
import { formFields, paramsFromForm, paramsFromText } from "../schema-form.js";

function Field({ f, value, onInput }) {
  const id = `param-${f.name}`;
  const label = html`<label for=${id}>${f.name}${f.required ? html`<span class="req" title="required">*</span>` : null} <span class="muted small">${f.kind}</span></label>`;
  const set = (e) => onInput(f.name, e.target.value);
  let input;
  if (f.kind === "boolean" || f.kind === "enum") {
    const options = f.kind === "boolean" ? ["true", "false"] : f.options.map(String);
    input = html`<select id=${id} name=${f.name} value=${value ?? ""} onChange=${set}><option value="">(unset)</option>${options.map((o) => html`<option key=${o} value=${o}>${o}</option>`)}</select>`;
  } else if (f.kind === "json") {
    input = html`<textarea id=${id} name=${f.name} rows="2" class="mono" placeholder="JSON" value=${value ?? ""} onInput=${set}></textarea>`;
  } else {
    const type = f.kind === "string" ? "text" : "number";
    input = html`<input id=${id} name=${f.name} type=${type} step=${f.kind === "integer" ? "1" : "any"} placeholder=${f.placeholder} value=${value ?? ""} onInput=${set} />`;
  }
  return html`<div class="field">${label}${input}${f.description ? html`<div class="muted small">${f.description}</div>` : null}</div>`;
}

function Result({ out }) {
  if (!out) return null;
  if (out.local) return html`<div class="result error" data-testid="call-result"><b data-testid="call-code">${out.local}</b></div>`;
  const error = out.body?.error;
  return html`
    <div class=${`result ${error ? "error" : "ok"}`} data-testid="call-result">
      <div class="result-head">
        <span class=${`pill ${error ? "dead" : "alive"}`} data-testid="call-code">${error ? error.code : "OK"}</span>
        <span>HTTP ${out.status}</span>
        <span>node <b class="mono" data-testid="call-node">${out.node ?? "–"}</b></span>
        <span><b data-testid="call-ms">${num(out.ms)}</b> ms</span>
      </div>
      ${error ? html`<div class="error-message">${error.message}</div>` : null}
      <pre class="mono" data-testid="call-body">${json(error ? error.data ?? error : out.body?.result)}</pre>
    </div>
  `;
}

function MethodForm({ service, method, nodes, role }) {
  const fields = useMemo(() => formFields(method.params), [method]);
  const [values, setValues] = useState({});
  const [text, setText] = useState("{}");
  const [node, setNode] = useState("");
  const [timeout, setTimeoutMs] = useState("");
  const [out, setOut] = useState(null);
  const [busy, setBusy] = useState(false);
  const locked = !method.public && role !== "admin";
  const run = async (e) => {
    e.preventDefault();
    let params;
    try {
      params = fields ? paramsFromForm(fields, values) : paramsFromText(text);
    } catch (err) {
      return setOut({ local: err.message });
    }
    setBusy(true);
    const path = `/rpc/${encodeURIComponent(service.name)}/${encodeURIComponent(method.name)}${node ? `?node=${encodeURIComponent(node)}` : ""}`;
    const headers = timeout ? { "x-p2p-timeout-ms": String(timeout) } : {};
    try {
      const res = await request("POST", path, { body: { params, id: `ui-${Date.now()}` }, headers });
      setOut({ status: res.status, body: res.body, node: res.headers.get("x-p2p-node"), ms: res.ms });
    } catch (err) {
      setOut({ local: `request failed: ${err.message}` });
    }
    setBusy(false);
  };
  return html`
    <form class="method-form" onSubmit=${run} data-testid="method-form">
      <h3 class="mono">${service.name}.${method.name}</h3>
      <p>${method.description || html`<span class="muted">no description</span>`}</p>
      <div class="badges">
        <span class=${`badge ${method.public ? "" : "warn"}`}>${method.public ? "public" : "admin only"}</span>
        ${method.idempotent ? html`<span class="badge">idempotent</span>` : null}
        ${method.cache ? html`<span class="badge">cached ${method.cache.ttl_s ?? ""}s</span>` : null}
      </div>
      ${fields
        ? fields.length === 0 ? html`<p class="muted">No params.</p>` : fields.map((f) => html`<${Field} key=${f.name} f=${f} value=${values[f.name]} onInput=${(k, v) => setValues({ ...values, [k]: v })} />`)
        : html`<div class="field"><label for="params-json">params (JSON object)</label><textarea id="params-json" name="params" rows="5" class="mono" value=${text} onInput=${(e) => setText(e.target.value)}></textarea></div>`}
      <div class="row">
        <div class="field"><label for="call-node">node</label>
          <select id="call-node" value=${node} onChange=${(e) => setNode(e.target.value)}><option value="">any (routed)</option>${nodes.map((n) => html`<option key=${n} value=${n}>${n}</option>`)}</select></div>
        <div class="field"><label for="call-timeout">deadline (ms)</label><input id="call-timeout" type="number" min="1" placeholder="30000" value=${timeout} onInput=${(e) => setTimeoutMs(e.target.value)} /></div>
      </div>
      <button type="submit" class="primary" disabled=${busy || locked} data-testid="call-button">${locked ? "admin only" : busy ? "Calling…" : "Call"}</button>
      <${Result} out=${out} />
    </form>
  `;
}

/** Every method of every service in the cluster, callable through /rpc. */
export function ConsoleView({ store, role }) {
  const [text, setText] = useState("");
  const [pick, setPick] = useState(null);
  const catalogue = store.services?.services ?? [];
  const methods = catalogue.flatMap((s) => s.methods.map((m) => ({ s, m, key: `${s.name}.${m.name}` })));
  const shown = methods.filter((x) => !text || x.key.toLowerCase().includes(text.toLowerCase()));
  const current = methods.find((x) => x.key === pick);
  return html`
    <div class="console">
      <section class="card method-list">
        <input type="search" placeholder=${`filter ${methods.length} methods`} value=${text} onInput=${(e) => setText(e.target.value)} data-testid="method-filter" />
        <ul>${shown.map((x) => html`<li key=${x.key}><button class=${x.key === pick ? "active" : ""} data-method=${x.key} onClick=${() => setPick(x.key)}>
          <span class="mono">${x.key}</span>${x.m.public ? null : html`<span class="badge warn">admin</span>`}</button></li>`)}</ul>
        ${methods.length === 0 ? html`<p class="empty-state">No methods known yet.</p>` : null}
      </section>
      <section class="card">
        ${current
          ? html`<${MethodForm} key=${current.key} service=${current.s} method=${current.m} role=${role} nodes=${current.s.nodes.filter((n) => !n.status || n.status === "running").map((n) => n.node_id)} />`
          : html`<p class="empty-state">Pick a method to call it.</p>`}
      </section>
    </div>
  `;
}
