import type { Command } from "commander";
import { readFileSync } from "node:fs";
import { TokenService } from "../auth/tokens.js";
import { httpsRequest } from "./https-request.js";

/** Client commands (and the demo): a bad argument exits 1 like any other failure. */
export const CLIENT_COMMANDS = new Set(["call", "nodes", "status", "services", "demo", "deploy", "deployments", "undeploy", "rollback"]);

export const DEFAULT_URL = "http://127.0.0.1:8001";
/** How long a client command waits for a node before giving up (calls add their own deadline). */
const REQUEST_TIMEOUT_MS = 15_000;

export interface ClientOptions {
  url?: string;
  json?: boolean;
  /** CA certificate file(s) to trust for an https:// node (the cluster CA). */
  ca?: string;
}

/** An answer the node gave with the contract's error envelope, or a failure to reach it. */
export class ClientError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export function withClientOptions(command: Command): Command {
  return command
    .option("--url <url>", `node to ask (env P2P_URL; default ${DEFAULT_URL})`)
    .option("--ca <file>", "CA certificate to trust for an https:// node, e.g. the cluster CA's ca.crt (env P2P_CA)")
    .option("--json", "print JSON instead of a table");
}

/** PEM of the CA to trust for HTTPS (--ca, else P2P_CA), set by baseUrl(). */
let trustedCa: string | undefined;

function loadCa(options: ClientOptions, env: NodeJS.ProcessEnv): void {
  const file = options.ca ?? (env.P2P_CA?.trim() || undefined);
  if (file === undefined) return;
  try {
    trustedCa = readFileSync(file, "utf8");
  } catch (err) {
    throw new ClientError("BAD_REQUEST", `--ca: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
}

/** Ends the command: the error's code and message on stderr, exit 1. */
export function failWith(err: unknown): never {
  if (err instanceof ClientError) process.stderr.write(`p2p: ${err.code}: ${err.message}\n`);
  else process.stderr.write(`p2p: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}

/** Runs a client command's body; any failure ends it with exit 1. */
export function run(body: () => Promise<void>): Promise<void> {
  return body().catch(failWith);
}

export function baseUrl(options: ClientOptions, env: NodeJS.ProcessEnv = process.env): string {
  const raw = options.url ?? env.P2P_URL?.trim() ?? DEFAULT_URL;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ClientError("BAD_REQUEST", `--url: "${raw}" is not a URL (e.g. ${DEFAULT_URL})`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new ClientError("BAD_REQUEST", `--url: "${raw}" must start with http:// or https://`);
  loadCa(options, env);
  return url.origin + url.pathname.replace(/\/+$/, "");
}

/** The token: P2P_TOKEN as is, else one minted from P2P_JWT_SECRET, else one obtained with P2P_API_KEY. */
export async function resolveToken(url: string, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const token = env.P2P_TOKEN?.trim();
  if (token) return token;
  const secret = env.P2P_JWT_SECRET?.trim();
  if (secret) return new TokenService(secret).issue("p2p-cli", "admin", 300);
  const apiKey = env.P2P_API_KEY?.trim();
  if (apiKey) {
    const answer = await send<{ access_token?: unknown }>(url, "/auth/token", { method: "POST", body: { node_id: "p2p-cli", api_key: apiKey } });
    if (typeof answer.body.access_token !== "string") throw new ClientError("UNAUTHORIZED", "the node gave no token for P2P_API_KEY");
    return answer.body.access_token;
  }
  throw new ClientError("UNAUTHORIZED", "no credentials: set P2P_TOKEN, P2P_JWT_SECRET or P2P_API_KEY");
}

export interface SendOptions {
  method?: string;
  body?: unknown;
  /** Bytes sent as they are (e.g. an artifact), instead of a JSON body. */
  raw?: { data: Buffer; type: string };
  token?: string;
  headers?: Record<string, string>;
  timeoutMs?: number;
}

/** One request to the node; an error envelope or a non-2xx answer becomes a ClientError. */
export async function send<T>(url: string, path: string, options: SendOptions = {}): Promise<{ body: T; headers: Headers }> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.body !== undefined) headers["content-type"] = "application/json";
  if (options.raw) headers["content-type"] = options.raw.type;
  const body = options.body !== undefined ? JSON.stringify(options.body) : options.raw?.data;
  const timeoutMs = options.timeoutMs ?? REQUEST_TIMEOUT_MS;
  let res: { ok: boolean; status: number; headers: Headers };
  let text: string;
  try {
    if (url.startsWith("https:")) {
      const answer = await httpsRequest(`${url}${path}`, { method: options.method ?? "GET", headers, body, ca: trustedCa, timeoutMs });
      res = { ok: answer.status >= 200 && answer.status < 300, status: answer.status, headers: answer.headers };
      text = answer.text;
    } else {
      const answer = await fetch(`${url}${path}`, { method: options.method ?? "GET", headers, ...(body !== undefined ? { body } : {}), signal: AbortSignal.timeout(timeoutMs) });
      res = answer;
      text = await answer.text();
    }
  } catch (err) {
    const why = err instanceof Error && err.name === "TimeoutError" ? "no answer in time" : err instanceof Error ? ((err.cause as Error | undefined)?.message ?? err.message) : String(err);
    throw new ClientError("UNAVAILABLE", `cannot reach ${url}: ${why}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ClientError(res.ok ? "INTERNAL" : `HTTP_${res.status}`, `${url}${path} answered ${res.status} with something that is not JSON`);
  }
  const error = (parsed as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  if (!res.ok || error) {
    throw new ClientError(typeof error?.code === "string" ? error.code : `HTTP_${res.status}`, typeof error?.message === "string" ? error.message : `HTTP ${res.status}`);
  }
  return { body: parsed as T, headers: res.headers };
}

/** GET with the resolved token: the common case of the read-only commands. */
export async function getJson<T>(options: ClientOptions, path: string): Promise<T> {
  const url = baseUrl(options);
  const token = await resolveToken(url);
  return (await send<T>(url, path, { token })).body;
}

/** A plain-text table: columns padded to their widest cell. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join("  ").trimEnd();
  return [line(header), ...rows.map(line)].join("\n") + "\n";
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function duration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "-";
  if (seconds < 60) return `${Math.round(seconds)}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${Math.round(seconds % 60)}s`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)}h${Math.floor((seconds % 3600) / 60)}m`;
  return `${Math.floor(seconds / 86400)}d${Math.floor((seconds % 86400) / 3600)}h`;
}
