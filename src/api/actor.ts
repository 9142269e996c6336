import type { FastifyRequest } from "fastify";
import type { Actor } from "../audit/audit.js";

/** Who made an authenticated request, for the audit trail: subject, issuing credential, source address. */
export function actorOf(request: FastifyRequest): Actor {
  const caller = request.caller;
  return { sub: caller?.sub ?? "unknown", credential: caller?.kid ?? "jwt-secret", from: request.ip };
}
