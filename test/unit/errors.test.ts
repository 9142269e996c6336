import { describe, expect, it } from "vitest";
import { ERROR_CODES, P2PError, toP2PError } from "../../src/errors.js";

describe("errors", () => {
  it("maps every contract code to its HTTP status", () => {
    const expected = { BAD_REQUEST: 400, INVALID_PARAMS: 400, UNAUTHORIZED: 401, FORBIDDEN: 403, SERVICE_NOT_FOUND: 404, METHOD_NOT_FOUND: 404, NODE_NOT_FOUND: 404, PAYLOAD_TOO_LARGE: 413, RATE_LIMITED: 429, INTERNAL: 500, UNAVAILABLE: 503, TIMEOUT: 504 };
    for (const [code, status] of Object.entries(expected)) expect(ERROR_CODES[code as keyof typeof ERROR_CODES].status).toBe(status);
  });

  it("keeps code, message and data across the wire, without a stack", () => {
    const err = new P2PError("INVALID_PARAMS", "bad", { field: "a" });
    const wire = JSON.parse(JSON.stringify(err)) as unknown;
    expect(wire).toEqual({ code: "INVALID_PARAMS", message: "bad", data: { field: "a" } });
    const back = P2PError.fromWire(wire);
    expect(back).toMatchObject({ code: "INVALID_PARAMS", message: "bad", data: { field: "a" }, status: 400 });
    expect(P2PError.fromWire({ code: "WHAT", message: 1 })).toMatchObject({ code: "INTERNAL", message: "remote error" });
    expect(P2PError.fromWire("x").code).toBe("INTERNAL");
  });

  it("turns anything thrown into INTERNAL with its message only", () => {
    expect(toP2PError(new Error("boom")).toJSON()).toEqual({ code: "INTERNAL", message: "boom" });
    expect(toP2PError("text").message).toBe("text");
    expect(toP2PError(undefined).message).toBe("internal error");
    expect(toP2PError({ code: "TIMEOUT", message: "late" }).code).toBe("TIMEOUT");
  });
});
