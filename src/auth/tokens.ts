import { SignJWT, jwtVerify, errors as joseErrors } from "jose";
import { P2PError } from "../errors.js";

export type Role = "admin" | "client";
/** "service" is the role of calls a service makes through its proxy: it may call non-public methods. */
export type CallerRole = Role | "service";

export interface Caller {
  sub: string;
  role: CallerRole;
}

export function isRole(value: unknown): value is Role {
  return value === "admin" || value === "client";
}

const ALGORITHM = "HS256";
const ISSUER = "p2p-core";
/** Verified tokens are cached until they expire, so verification stays off the hot path. */
const CACHE_LIMIT = 10_000;

interface CachedToken {
  caller: Caller;
  expiresAtMs: number;
}

export class TokenService {
  private readonly key: Uint8Array;
  private readonly verified = new Map<string, CachedToken>();

  constructor(secret: string) {
    this.key = new TextEncoder().encode(secret);
  }

  async issue(sub: string, role: Role, ttlSeconds: number): Promise<string> {
    return new SignJWT({ role })
      .setProtectedHeader({ alg: ALGORITHM, typ: "JWT" })
      .setSubject(sub)
      .setIssuer(ISSUER)
      .setIssuedAt()
      .setExpirationTime(Math.floor(Date.now() / 1000) + ttlSeconds)
      .sign(this.key);
  }

  /** Resolves the caller of a bearer token or throws UNAUTHORIZED. */
  async verify(token: string): Promise<Caller> {
    const cached = this.verified.get(token);
    if (cached !== undefined) {
      if (cached.expiresAtMs > Date.now()) return cached.caller;
      this.verified.delete(token);
      throw new P2PError("UNAUTHORIZED", "token expired");
    }
    let payload;
    try {
      ({ payload } = await jwtVerify(token, this.key, { algorithms: [ALGORITHM], issuer: ISSUER }));
    } catch (err) {
      throw new P2PError("UNAUTHORIZED", err instanceof joseErrors.JWTExpired ? "token expired" : "invalid token");
    }
    if (typeof payload.sub !== "string" || !isRole(payload.role) || typeof payload.exp !== "number") {
      throw new P2PError("UNAUTHORIZED", "invalid token claims");
    }
    const caller: Caller = { sub: payload.sub, role: payload.role };
    if (this.verified.size >= CACHE_LIMIT) this.verified.clear();
    this.verified.set(token, { caller, expiresAtMs: payload.exp * 1000 });
    return caller;
  }
}

const TTL_UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** "90", "90s", "15m", "1h", "7d" → seconds. */
export function parseTtl(value: string): number {
  const match = /^(\d+)([smhd]?)$/.exec(value.trim());
  if (!match) throw new Error(`--ttl: "${value}" is not a duration like 90s, 15m, 1h or 7d`);
  const seconds = Number(match[1]) * TTL_UNITS[match[2] || "s"]!;
  if (seconds < 1 || seconds > 366 * 86400) throw new Error(`--ttl: "${value}" must be between 1s and 366d`);
  return seconds;
}
