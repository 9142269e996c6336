import { TokenService, type Role } from "../../src/auth/tokens.js";
import { TEST_SECRETS } from "./launcher.js";
import { httpsRequest } from "../../src/cli/https-request.js";

const tokens = new TokenService(TEST_SECRETS.P2P_JWT_SECRET);

export function testToken(role: Role = "admin", ttlSeconds = 3600, sub = "test"): Promise<string> {
  return tokens.issue(sub, role, ttlSeconds);
}

export interface JsonResponse<T = Record<string, unknown>> {
  status: number;
  headers: Headers;
  body: T;
}

export async function request<T = Record<string, unknown>>(
  url: string,
  init: { method?: string; token?: string; body?: unknown; rawBody?: string; headers?: Record<string, string>; ca?: string } = {},
): Promise<JsonResponse<T>> {
  const headers: Record<string, string> = { ...init.headers };
  if (init.token) headers.authorization = `Bearer ${init.token}`;
  let body: string | undefined;
  if (init.rawBody !== undefined) body = init.rawBody;
  else if (init.body !== undefined) body = JSON.stringify(init.body);
  if (body !== undefined && !headers["content-type"]) headers["content-type"] = "application/json";
  const method = init.method ?? (body !== undefined ? "POST" : "GET");
  let res: { status: number; headers: Headers };
  let text: string;
  if (url.startsWith("https:")) {
    // fetch cannot be given a CA: HTTPS to a test node goes through node:https with the node's CA.
    const answer = await httpsRequest(url, { method, headers, body, ca: init.ca, timeoutMs: 60_000 });
    res = answer;
    text = answer.text;
  } else {
    const answer = await fetch(url, { method, headers, body });
    res = answer;
    text = await answer.text();
  }
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON (metrics, docs)
  }
  return { status: res.status, headers: res.headers, body: parsed as T };
}
