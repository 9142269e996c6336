import { html, useState } from "../lib.js";
import { signInWithKey, signInWithToken } from "../api.js";

/** Sign-in with an API key (exchanged at POST /auth/token) or a pasted token. */
export function SignIn({ onSignedIn, notice }) {
  const [mode, setMode] = useState("key");
  const [value, setValue] = useState("");
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e) => {
    e.preventDefault();
    if (!value.trim()) return setError(mode === "key" ? "Enter an API key." : "Paste a token.");
    setBusy(true);
    setError(null);
    try {
      onSignedIn(mode === "key" ? await signInWithKey(value) : await signInWithToken(value));
    } catch (err) {
      setError(err.message);
      setBusy(false);
    }
  };
  return html`
    <div class="signin-page">
      <form class="signin card" onSubmit=${submit} autocomplete="off">
        <h1><img src="./favicon.svg" alt="" width="28" height="28" /> P2P Core</h1>
        <p class="muted">Sign in to watch and drive the cluster.</p>
        <div class="segmented">
          <button type="button" class=${mode === "key" ? "active" : ""} onClick=${() => { setMode("key"); setError(null); }}>API key</button>
          <button type="button" class=${mode === "token" ? "active" : ""} onClick=${() => { setMode("token"); setError(null); }}>Token</button>
        </div>
        ${mode === "key"
          ? html`<label>API key<input name="api_key" type="password" value=${value} onInput=${(e) => setValue(e.target.value)} autofocus /></label>`
          : html`<label>Bearer token<textarea name="token" rows="4" value=${value} onInput=${(e) => setValue(e.target.value)}></textarea></label>`}
        <button type="submit" class="primary" disabled=${busy}>${busy ? "Signing in…" : "Sign in"}</button>
        ${notice && !error ? html`<p class="notice">${notice}</p>` : null}
        ${error ? html`<p class="error" role="alert" data-testid="signin-error">${error}</p>` : null}
        <p class="muted small">The token stays in this page's memory only; reloading the page signs you out.</p>
      </form>
    </div>
  `;
}
