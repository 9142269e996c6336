/**
 * The one error catalog: every code of the API, its HTTP status. Errors keep their code
 * across nodes via toJSON/fromWire. Whether a failed call may run again elsewhere is not a
 * property of the code: rpc/classify.ts decides from code and reason.
 */
export const ERROR_CODES = {
  BAD_REQUEST: { status: 400 },
  INVALID_PARAMS: { status: 400 },
  UNAUTHORIZED: { status: 401 },
  FORBIDDEN: { status: 403 },
  SERVICE_NOT_FOUND: { status: 404 },
  METHOD_NOT_FOUND: { status: 404 },
  NODE_NOT_FOUND: { status: 404 },
  NOT_FOUND: { status: 404 },
  CONFLICT: { status: 409 },
  PAYLOAD_TOO_LARGE: { status: 413 },
  RATE_LIMITED: { status: 429 },
  INTERNAL: { status: 500 },
  UNAVAILABLE: { status: 503 },
  TIMEOUT: { status: 504 },
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/**
 * Codes arrive from services and peers as arbitrary strings; looking them up with `in` or `[]`
 * would find Object.prototype's "toString" or "constructor". Own properties only.
 */
export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === "string" && Object.hasOwn(ERROR_CODES, value);
}

/**
 * The codes a service method may throw (`throw new P2PError("CONFLICT", "sold out")`); the
 * others (SERVICE_NOT_FOUND, PAYLOAD_TOO_LARGE, ...) describe routing and transport.
 */
export type ServiceErrorCode = Extract<
  ErrorCode,
  "BAD_REQUEST" | "INVALID_PARAMS" | "UNAUTHORIZED" | "FORBIDDEN" | "NOT_FOUND" | "CONFLICT" | "RATE_LIMITED" | "INTERNAL" | "UNAVAILABLE" | "TIMEOUT"
>;

export interface WireError {
  code: ErrorCode;
  message: string;
  data?: unknown;
}

export class P2PError extends Error {
  readonly code: ErrorCode;
  readonly data: unknown;
  /** The node that answered with this error, when known (for the x-p2p-node header). */
  answeredBy?: string;

  constructor(code: ErrorCode, message: string, data?: unknown) {
    super(message);
    this.name = "P2PError";
    // A cast or plain JavaScript can hand in any string: an unknown code is an internal error.
    this.code = isErrorCode(code) ? code : "INTERNAL";
    this.data = data;
  }

  get status(): number {
    return ERROR_CODES[this.code].status;
  }

  toJSON(): WireError {
    const out: WireError = { code: this.code, message: this.message };
    if (this.data !== undefined) out.data = this.data;
    return out;
  }

  static fromWire(wire: unknown): P2PError {
    if (wire && typeof wire === "object") {
      const w = wire as Record<string, unknown>;
      const code = isErrorCode(w.code) ? w.code : "INTERNAL";
      const message = typeof w.message === "string" ? w.message : "remote error";
      return new P2PError(code, message, w.data);
    }
    return new P2PError("INTERNAL", "remote error");
  }
}

/** Anything thrown becomes a P2PError; unknown errors become INTERNAL with their message only. */
export function toP2PError(err: unknown): P2PError {
  if (err instanceof P2PError) return err;
  if (err && typeof err === "object" && "code" in err && isErrorCode((err as { code: unknown }).code)) {
    const e = err as { code: ErrorCode; message?: unknown; data?: unknown };
    return new P2PError(e.code, typeof e.message === "string" ? e.message : e.code, e.data);
  }
  const message = err instanceof Error ? err.message : typeof err === "string" ? err : "internal error";
  return new P2PError("INTERNAL", message || "internal error");
}
