import { X509Certificate } from "node:crypto";
import { nodeIdOf } from "./node-id.js";

/**
 * Checks a node certificate with node:crypto only (no certificate library at run time):
 * issued and signed by one of the trusted CAs, within its validity (and the CA's), a leaf
 * usable for TLS both ways, and naming exactly one node id. TLS connections get the same
 * chain check from OpenSSL; this one serves what arrives outside TLS (signed liveness) and
 * the node's own files at start.
 */
export type CertProblem = "unparsable" | "untrusted" | "expired" | "not_yet_valid" | "no_node_id" | "not_a_leaf" | "wrong_usage";

export class CertificateError extends Error {
  constructor(
    readonly problem: CertProblem,
    message: string,
  ) {
    super(message);
    this.name = "CertificateError";
  }
}

const SERVER_AUTH = "1.3.6.1.5.5.7.3.1";
const CLIENT_AUTH = "1.3.6.1.5.5.7.3.2";

export interface CheckedCertificate {
  cert: X509Certificate;
  nodeId: string;
  /** ms since the epoch. */
  notAfter: number;
  /** The CA that issued it. */
  issuer: X509Certificate;
}

/** Every certificate in a PEM text (a bundle of several CAs, or one certificate). */
export function parsePemCertificates(pem: string): X509Certificate[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  return blocks.map((block) => {
    try {
      return new X509Certificate(block);
    } catch (err) {
      throw new CertificateError("unparsable", `not a certificate: ${err instanceof Error ? err.message : String(err)}`);
    }
  });
}

export function validityOf(cert: X509Certificate): { from: number; to: number } {
  return { from: Date.parse(cert.validFrom), to: Date.parse(cert.validTo) };
}

/** The CA among `cas` that issued and signed `cert`, or null. */
export function issuerOf(cert: X509Certificate, cas: readonly X509Certificate[]): X509Certificate | null {
  for (const ca of cas) {
    if (!ca.ca) continue;
    try {
      if (cert.checkIssued(ca) && cert.verify(ca.publicKey)) return ca;
    } catch {
      // a CA of another key type: not this one
    }
  }
  return null;
}

/** Throws CertificateError unless `cert` is a node certificate of one of `cas`, valid at `now` (ms). */
export function checkNodeCertificate(cert: X509Certificate, cas: readonly X509Certificate[], now: number): CheckedCertificate {
  if (cert.ca) throw new CertificateError("not_a_leaf", "a CA certificate cannot be a node certificate");
  const issuer = issuerOf(cert, cas);
  if (!issuer) throw new CertificateError("untrusted", `certificate "${cert.subject.replace(/\n/g, ", ")}" is not issued by a trusted cluster CA`);
  for (const [c, what] of [
    [cert, "certificate"],
    [issuer, "its CA"],
  ] as const) {
    const { from, to } = validityOf(c);
    if (!(now >= from)) throw new CertificateError("not_yet_valid", `${what} is not valid before ${new Date(from).toISOString()}`);
    if (!(now <= to)) throw new CertificateError("expired", `${what} expired at ${new Date(to).toISOString()}`);
  }
  const usage = cert.keyUsage;
  if (usage && !(usage.includes(SERVER_AUTH) && usage.includes(CLIENT_AUTH))) {
    throw new CertificateError("wrong_usage", "a node certificate must allow serverAuth and clientAuth");
  }
  const nodeId = nodeIdOf(cert);
  if (!nodeId) throw new CertificateError("no_node_id", "the certificate names no node id (SAN URI p2p://node/<id>)");
  return { cert, nodeId, notAfter: validityOf(cert).to, issuer };
}
