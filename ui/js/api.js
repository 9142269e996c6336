// Talks to the node that served the page. The bearer token lives only in this module's memory:
// never in a URL, localStorage or a cookie; a reload means signing in again.

let token = null;
let role = null;
let expiresAt = 0;

/** An error answer of the API, with the contract's code. */
export class ApiError extends Error {
  constructor(status, code, message, data) {
    super(message);
    this.status = status;
    this.code = code;
    this.data = data;
  }
}

function claimsOf(jwt) {
  const part = String(jwt).split(".")[1];
  if (!part) return null;
  try {
    const json = atob(part.replace(/-/g, "+").replace(/_/g, "/"));
    return JSON.parse(json);
  } catch {
    return null;
  }
}

export function session() {
  return token ? { role, expiresAt } : null;
}

export function authHeader() {
  return token ? { authorization: `Bearer ${token}` } : {};
}

export function signOut() {
  token = null;
  role = null;
  expiresAt = 0;
}

/** One HTTP exchange; resolves with status, headers, parsed body and elapsed ms (never throws for HTTP errors). */
export async function request(method, path, { body, headers = {}, signal } = {}) {
  const started = performance.now();
  const init = { method, headers: { ...authHeader(), ...headers }, signal, cache: "no-store" };
  if (body !== undefined) {
    init.body = typeof body === "string" ? body : JSON.stringify(body);
    init.headers["content-type"] = "application/json";
  }
  const res = await fetch(path, init);
  const text = await res.text();
  let parsed = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    // not JSON
  }
  return { status: res.status, ok: res.ok, headers: res.headers, body: parsed, ms: performance.now() - started };
}

/** GET/POST expecting success: the body, or an ApiError with the contract's code. */
export async function call(method, path, body) {
  const res = await request(method, path, { body });
  if (res.ok) return res.body;
  const err = res.body && typeof res.body === "object" ? res.body.error : null;
  throw new ApiError(res.status, err?.code ?? `HTTP_${res.status}`, err?.message ?? `HTTP ${res.status}`, err?.data);
}

export const get = (path) => call("GET", path);
export const post = (path, body) => call("POST", path, body);

/** Exchanges an API key for a token (the key decides the role). */
export async function signInWithKey(apiKey) {
  const res = await request("POST", "/auth/token", { body: { node_id: "dashboard", api_key: apiKey } });
  if (!res.ok) {
    const code = res.body?.error?.code ?? `HTTP_${res.status}`;
    throw new ApiError(res.status, code, res.status === 401 ? "This key was refused." : res.body?.error?.message ?? "Sign-in failed.");
  }
  token = res.body.access_token;
  role = res.body.role;
  expiresAt = Date.now() + res.body.expires_in * 1000;
  return session();
}

/** Takes a pasted token, once the node has accepted it. */
export async function signInWithToken(jwt) {
  const claims = claimsOf(jwt.trim());
  if (!claims) throw new ApiError(0, "BAD_TOKEN", "This is not a token (expected a JWT).");
  token = jwt.trim();
  const res = await request("GET", "/cluster/status");
  if (!res.ok) {
    signOut();
    throw new ApiError(res.status, res.body?.error?.code ?? `HTTP_${res.status}`, res.status === 401 ? "This token was refused." : "Sign-in failed.");
  }
  role = claims.role === "admin" ? "admin" : "client";
  expiresAt = typeof claims.exp === "number" ? claims.exp * 1000 : 0;
  return session();
}
