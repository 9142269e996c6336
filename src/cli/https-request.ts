import { request } from "node:https";

/**
 * One HTTPS request trusting `ca` (the cluster CA, `--ca` / `P2P_CA`) besides the system's
 * roots. Node 20's fetch cannot be given a CA without an extra HTTP client library, so
 * client commands send HTTPS through node:https and keep fetch for plain HTTP.
 */
export interface HttpsAnswer {
  status: number;
  headers: Headers;
  text: string;
}

export function httpsRequest(url: string, init: { method: string; headers: Record<string, string>; body?: string | Buffer; ca?: string; timeoutMs: number }): Promise<HttpsAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: init.method, headers: init.headers, ...(init.ca ? { ca: init.ca } : {}), timeout: init.timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("error", reject);
      res.on("end", () => {
        const headers = new Headers();
        for (const [name, value] of Object.entries(res.headers)) {
          if (value === undefined) continue;
          for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v);
        }
        resolve({ status: res.statusCode ?? 0, headers, text: Buffer.concat(chunks).toString("utf8") });
      });
    });
    req.on("timeout", () => req.destroy(Object.assign(new Error("no answer in time"), { name: "TimeoutError" })));
    req.on("error", reject);
    req.end(init.body);
  });
}
