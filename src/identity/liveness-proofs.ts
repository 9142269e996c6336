import { createHash, createPrivateKey, sign, verify, X509Certificate, type KeyObject } from "node:crypto";
import type { LivenessProofs } from "../cluster/membership/proofs.js";
import { checkNodeCertificate } from "./cert-check.js";
import type { NodeTls } from "./node-tls.js";

/**
 * Liveness proofs with node certificates: a proof is [certificate id: 8 bytes of the
 * SHA-256 of its DER][ECDSA signature (DER) by that certificate's key]. A member's
 * certificates are learnt from push-pull state and kept once they check out against the
 * cluster CAs and name that member; a few per member (rotation: news signed with the old key
 * may still be travelling), and a bounded number of members.
 */
const ID_BYTES = 8;
const CERTS_PER_MEMBER = 3;
const MAX_MEMBERS = 10_000;

interface Known {
  der: Uint8Array;
  key: KeyObject;
  notAfter: number;
}

function certId(der: Uint8Array): string {
  return createHash("sha256").update(der).digest().subarray(0, ID_BYTES).toString("hex");
}

export class CertificateProofs implements LivenessProofs {
  /** name → certificate id → certificate (insertion order: oldest first). */
  private readonly known = new Map<string, Map<string, Known>>();
  private own: { pem: string; der: Uint8Array; id: Buffer; key: KeyObject } | null = null;

  constructor(
    private readonly tls: NodeTls,
    private readonly wallClock: () => number = Date.now,
  ) {}

  /** This node's certificate and key as they are now (they change on SIGHUP). */
  private current(): { der: Uint8Array; id: Buffer; key: KeyObject } {
    const pem = this.tls.certPem;
    if (this.own?.pem !== pem) {
      const der = new Uint8Array(new X509Certificate(pem).raw);
      this.own = { pem, der, id: Buffer.from(certId(der), "hex"), key: createPrivateKey(this.tls.keyPem) };
      this.learn(this.tls.nodeId, der);
    }
    return this.own;
  }

  sign(statement: Uint8Array): Uint8Array {
    const { id, key } = this.current();
    return Buffer.concat([id, sign("sha256", statement, key)]);
  }

  verify(name: string, statement: Uint8Array, proof: Uint8Array): boolean | "unknown" {
    if (name === this.tls.nodeId) this.current();
    if (proof.length <= ID_BYTES) return false;
    const id = Buffer.from(proof.buffer, proof.byteOffset, ID_BYTES).toString("hex");
    const cert = this.known.get(name)?.get(id);
    if (!cert) return "unknown";
    if (this.wallClock() > cert.notAfter) return false;
    try {
      return verify("sha256", statement, cert.key, proof.subarray(ID_BYTES));
    } catch {
      return false;
    }
  }

  learn(name: string, der: Uint8Array): boolean {
    const id = certId(der);
    const certs = this.known.get(name);
    if (certs?.has(id)) return true;
    let checked;
    try {
      checked = checkNodeCertificate(new X509Certificate(der), this.tls.cas, this.wallClock());
    } catch {
      return false;
    }
    if (checked.nodeId !== name) return false;
    const entry: Known = { der: new Uint8Array(der), key: checked.cert.publicKey, notAfter: checked.notAfter };
    if (certs) {
      certs.set(id, entry);
      if (certs.size > CERTS_PER_MEMBER) certs.delete(certs.keys().next().value!);
    } else {
      if (this.known.size >= MAX_MEMBERS) this.known.delete(this.known.keys().next().value!);
      this.known.set(name, new Map([[id, entry]]));
    }
    return true;
  }

  certificate(name: string): Uint8Array | undefined {
    if (name === this.tls.nodeId) return this.current().der;
    const certs = this.known.get(name);
    if (!certs) return undefined;
    let newest: Known | undefined;
    for (const c of certs.values()) newest = c;
    return newest?.der;
  }
}
