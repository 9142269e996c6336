import { describe, expect, it } from "vitest";
import { SignJWT } from "jose";
import { TokenService, parseTtl } from "../../src/auth/tokens.js";
import { ApiKeys } from "../../src/auth/keys.js";
import { P2PError } from "../../src/errors.js";

const SECRET = "unit-test-secret-0123456789abcdef";

async function expectUnauthorized(promise: Promise<unknown>): Promise<void> {
  const err = await promise.then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(P2PError);
  expect((err as P2PError).code).toBe("UNAUTHORIZED");
}

describe("tokens", () => {
  it("issues tokens any service with the same secret verifies", async () => {
    const token = await new TokenService(SECRET).issue("alice", "client", 60);
    expect(await new TokenService(SECRET).verify(token)).toEqual({ sub: "alice", role: "client", kid: "jwt-secret" });
    const fromKey = await new TokenService(SECRET).issue("carol", "client", 60, "client-key");
    expect((await new TokenService(SECRET).verify(fromKey)).kid).toBe("client-key");
  });

  it("rejects garbage, another secret, alg none, missing role and expired tokens", async () => {
    const svc = new TokenService(SECRET);
    const key = new TextEncoder().encode(SECRET);
    const now = Math.floor(Date.now() / 1000);
    const enc = (o: object) => Buffer.from(JSON.stringify(o)).toString("base64url");
    await expectUnauthorized(svc.verify("garbage"));
    await expectUnauthorized(svc.verify(await new TokenService("another-secret-0123456789").issue("x", "admin", 60)));
    await expectUnauthorized(svc.verify(`${enc({ alg: "none" })}.${enc({ sub: "x", role: "admin", iss: "p2p-core", exp: now + 60 })}.`));
    await expectUnauthorized(svc.verify(await new SignJWT({}).setProtectedHeader({ alg: "HS256" }).setSubject("x").setIssuer("p2p-core").setExpirationTime(now + 60).sign(key)));
    await expectUnauthorized(svc.verify(await new SignJWT({ role: "root" }).setProtectedHeader({ alg: "HS256" }).setSubject("x").setIssuer("p2p-core").setExpirationTime(now + 60).sign(key)));
    await expectUnauthorized(svc.verify(await new SignJWT({ role: "admin" }).setProtectedHeader({ alg: "HS256" }).setSubject("x").setIssuer("p2p-core").setExpirationTime(now - 10).sign(key)));
  });

  it("refuses tokens issued in the future, without iat, or living longer than 30 days", async () => {
    const svc = new TokenService(SECRET);
    const key = new TextEncoder().encode(SECRET);
    const now = Math.floor(Date.now() / 1000);
    const signed = (iat: number | undefined, exp: number) => {
      const jwt = new SignJWT({ role: "admin" }).setProtectedHeader({ alg: "HS256" }).setSubject("x").setIssuer("p2p-core").setExpirationTime(exp);
      return (iat === undefined ? jwt : jwt.setIssuedAt(iat)).sign(key);
    };
    await expectUnauthorized(svc.verify(await signed(now + 3600, now + 7200)));
    await expectUnauthorized(svc.verify(await signed(undefined, now + 60)));
    await expectUnauthorized(svc.verify(await signed(now, now + 31 * 86400)));
    await expectUnauthorized(svc.verify(await signed(now - 10, Math.floor(Date.UTC(3000, 0, 1) / 1000))));
    expect((await svc.verify(await signed(now + 30, now + 30 * 86400))).role).toBe("admin");
    await expect(svc.issue("x", "admin", 31 * 86400)).rejects.toThrow(RangeError);
  });

  it("a cached verified token still expires, on the injected clock", async () => {
    let wall = Date.UTC(2030, 0, 1);
    const svc = new TokenService(SECRET, () => wall);
    const token = await svc.issue("bob", "admin", 60);
    expect((await svc.verify(token)).role).toBe("admin");
    wall += 59_000;
    expect((await svc.verify(token)).role).toBe("admin");
    wall += 1_000;
    await expectUnauthorized(svc.verify(token));
    // A fresh verifier (nothing cached) reads the same clock.
    await expectUnauthorized(new TokenService(SECRET, () => wall).verify(token));
    expect((await new TokenService(SECRET, () => wall - 30_000).verify(token)).sub).toBe("bob");
  });

  it("parses ttl durations", () => {
    expect(parseTtl("90")).toBe(90);
    expect(parseTtl("15m")).toBe(900);
    expect(parseTtl("1h")).toBe(3600);
    expect(parseTtl("7d")).toBe(604800);
    expect(() => parseTtl("1y")).toThrow(/--ttl/);
    expect(() => parseTtl("0s")).toThrow(/--ttl/);
    expect(parseTtl("30d")).toBe(30 * 86400);
    expect(() => parseTtl("31d")).toThrow(/--ttl/);
  });
});

describe("tokens verified before (the request path's synchronous check)", () => {
  it("cached() knows only tokens verify() accepted, and refuses one that expired since, as verify() does", async () => {
    let now = 1_700_000_000_000;
    const svc = new TokenService(SECRET, () => now);
    const token = await svc.issue("dave", "admin", 60);
    expect(svc.cached(token)).toBeUndefined();
    expect(await svc.verify(token)).toEqual({ sub: "dave", role: "admin", kid: "jwt-secret" });
    expect(svc.cached(token)).toEqual({ sub: "dave", role: "admin", kid: "jwt-secret" });
    now += 61_000;
    expect(() => svc.cached(token)).toThrow("token expired");
    await expectUnauthorized(svc.verify(token));
    const later = await svc.issue("dave", "admin", 60);
    await svc.verify(later);
    now += 61_000;
    const err = await svc.verify(later).then(() => null, (e: unknown) => e);
    expect((err as P2PError).message).toBe("token expired");
  });
});

describe("api keys", () => {
  it("maps the admin key to admin, the client key to client, anything else to nothing", () => {
    const keys = new ApiKeys("admin-key", "client-key");
    expect(keys.roleFor("admin-key")).toBe("admin");
    expect(keys.roleFor("client-key")).toBe("client");
    expect(keys.roleFor("admin-key ")).toBeUndefined();
    expect(new ApiKeys("admin-key", undefined).roleFor("client-key")).toBeUndefined();
  });
});
