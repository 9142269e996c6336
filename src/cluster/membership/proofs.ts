import { Writer } from "./messages.js";

/**
 * Liveness proofs (clusters with node certificates): what a member says of itself — that it is
 * alive at an incarnation, with an address and metadata (its join, its refutations, its
 * updates), and that it leaves — is signed with its certificate's key, and nobody believes
 * such news about X unless X's signature verifies against X's certificate. Holding the
 * cluster key is then not enough to join as X, move X elsewhere, refute X's suspicion or
 * announce X's leave. Certificates travel with push-pull state (verified against the cluster
 * CAs by the implementation); news signed by a certificate not seen yet is dropped and
 * fetched with a push-pull from whoever sent it.
 * Suspicions and deaths declared by others need no proof: they are SWIM's accusations, and
 * the accused refutes them with a signed alive.
 */
export interface LivenessProofs {
  /** This member's proof of `statement`. */
  sign(statement: Uint8Array): Uint8Array;
  /** Whether `proof` is `name`'s signature of `statement`; "unknown": its certificate was not seen yet. */
  verify(name: string, statement: Uint8Array, proof: Uint8Array): boolean | "unknown";
  /** A certificate (DER) presented for `name`: kept if it is a valid certificate of the cluster for that name. */
  learn(name: string, cert: Uint8Array): boolean;
  /** The certificate (DER) to hand on with `name`'s state, if known. */
  certificate(name: string): Uint8Array | undefined;
}

/** What an alive proves: the member's name, address, incarnation and metadata. */
export function aliveStatement(name: string, address: string, incarnation: number, meta: Uint8Array): Uint8Array {
  const w = new Writer(64 + meta.length);
  w.str("p2p-alive/1");
  w.str(name);
  w.str(address);
  w.u64(incarnation);
  w.bytes(meta);
  return w.finish();
}

/** What a leave proves: the member's name and the incarnation it leaves at. */
export function leaveStatement(name: string, incarnation: number): Uint8Array {
  const w = new Writer(64);
  w.str("p2p-leave/1");
  w.str(name);
  w.u64(incarnation);
  return w.finish();
}
