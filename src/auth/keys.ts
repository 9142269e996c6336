import { randomBytes, timingSafeEqual, createHash } from "node:crypto";
import type { Role } from "./tokens.js";

export function generateSecret(): string {
  return randomBytes(32).toString("base64url");
}

function digest(value: string): Buffer {
  return createHash("sha256").update(value).digest();
}

/** Maps a presented API key to the role it grants, in constant time per key. */
export class ApiKeys {
  private readonly admin: Buffer;
  private readonly client: Buffer | undefined;

  constructor(apiKey: string, clientKey: string | undefined) {
    this.admin = digest(apiKey);
    this.client = clientKey === undefined ? undefined : digest(clientKey);
  }

  roleFor(presented: string): Role | undefined {
    const d = digest(presented);
    if (timingSafeEqual(d, this.admin)) return "admin";
    if (this.client && timingSafeEqual(d, this.client)) return "client";
    return undefined;
  }
}
