import { SignJWT, jwtVerify, errors as joseErrors } from "jose";
import { P2PError } from "../errors.js";

export type Role = "admin" | "client";
/** "service" is the role of calls a service makes through its proxy: it may call non-public methods. */
export type CallerRole = Role | "service";

export interface Caller {
  sub: string;
  role: CallerRole;
  /** The credential that issued the caller's token (its `kid` claim): what rate limits key on. */
  kid?: KeyId;
}

/**
 * Which credential issued a token: the admin API key, the client key (both through
 * /auth/token), or the JWT secret itself (`p2p token`, the development token).
 * The subject is chosen by whoever asks for a token; the key id is not.
 */
export type KeyId = "api-key" | "client-key" | "jwt-secret";
const KEY_IDS: readonly string[] = ["api-key", "client-key", "jwt-secret"];

/** Longest lifetime (exp − iat) a token may have: 30 days. Longer ones are refused. */
export const MAX_TOKEN_LIFETIME_S = 30 * 86400;
/** Clock skew tolerated between the node that issued a token and the one checking it. */
export const MAX_CLOCK_SKEW_S = 60;

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

  constructor(
    secret: string,
    /** Wall-clock milliseconds (JWT times are wall-clock seconds); injected so expiry is testable. */
    private readonly wallClock: () => number = Date.now,
  ) {
    this.key = new TextEncoder().encode(secret);
  }

  async issue(sub: string, role: Role, ttlSeconds: number, kid: KeyId = "jwt-secret"): Promise<string> {
    if (!(ttlSeconds > 0 && ttlSeconds <= MAX_TOKEN_LIFETIME_S)) throw new RangeError(`token lifetime must be between 1 s and ${MAX_TOKEN_LIFETIME_S} s`);
    const now = Math.floor(this.wallClock() / 1000);
    return new SignJWT({ role, kid })
      .setProtectedHeader({ alg: ALGORITHM, typ: "JWT" })
      .setSubject(sub)
      .setIssuer(ISSUER)
      .setIssuedAt(now)
      .setExpirationTime(now + ttlSeconds)
      .sign(this.key);
  }

  /**
   * The caller of a token verified before, without waiting: undefined when the token was not
   * verified yet (then `verify` must run), UNAUTHORIZED thrown when it expired since.
   */
  cached(token: string): Caller | undefined {
    const cached = this.verified.get(token);
    if (cached === undefined) return undefined;
    if (cached.expiresAtMs > this.wallClock()) return cached.caller;
    this.verified.delete(token);
    throw new P2PError("UNAUTHORIZED", "token expired");
  }

  /** Resolves the caller of a bearer token or throws UNAUTHORIZED. */
  async verify(token: string): Promise<Caller> {
    const cached = this.cached(token);
    if (cached !== undefined) return cached;
    let payload;
    try {
      ({ payload } = await jwtVerify(token, this.key, { algorithms: [ALGORITHM], issuer: ISSUER, currentDate: new Date(this.wallClock()) }));
    } catch (err) {
      throw new P2PError("UNAUTHORIZED", err instanceof joseErrors.JWTExpired ? "token expired" : "invalid token");
    }
    if (typeof payload.sub !== "string" || !isRole(payload.role) || typeof payload.exp !== "number" || typeof payload.iat !== "number") {
      throw new P2PError("UNAUTHORIZED", "invalid token claims");
    }
    if (payload.iat > this.wallClock() / 1000 + MAX_CLOCK_SKEW_S) throw new P2PError("UNAUTHORIZED", "token issued in the future");
    if (payload.exp - payload.iat > MAX_TOKEN_LIFETIME_S) throw new P2PError("UNAUTHORIZED", `token lifetime over the maximum of ${MAX_TOKEN_LIFETIME_S / 86400} days`);
    // Tokens minted before key ids existed came from the secret's holders.
    const kid = typeof payload.kid === "string" && KEY_IDS.includes(payload.kid) ? (payload.kid as KeyId) : "jwt-secret";
    const caller: Caller = { sub: payload.sub, role: payload.role, kid };
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
  if (seconds < 1 || seconds > MAX_TOKEN_LIFETIME_S) throw new Error(`--ttl: "${value}" must be between 1s and ${MAX_TOKEN_LIFETIME_S / 86400}d`);
  return seconds;
}
