/**
 * A node's identity as a certificate names it: the subject alternative name
 * `URI:p2p://node/<id>`. Node ids are 1-128 letters, digits, `.`, `_`, `:` and `-`, so an id
 * never needs quoting in Node's subjectAltName text (values with `,` or `"` are written
 * quoted there, and a quoted entry never matches).
 */
import type { X509Certificate } from "node:crypto";

export const NODE_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
export const NODE_URI_PREFIX = "p2p://node/";

export function nodeUri(nodeId: string): string {
  return `${NODE_URI_PREFIX}${nodeId}`;
}

/** The node id a certificate names, or null when it names none or more than one. */
export function nodeIdOf(cert: Pick<X509Certificate, "subjectAltName">): string | null {
  const san = cert.subjectAltName;
  if (!san) return null;
  const ids = san
    .split(", ")
    .filter((entry) => entry.startsWith(`URI:${NODE_URI_PREFIX}`))
    .map((entry) => entry.slice(`URI:${NODE_URI_PREFIX}`.length))
    .filter((id) => NODE_ID_PATTERN.test(id));
  return ids.length === 1 ? ids[0]! : null;
}
