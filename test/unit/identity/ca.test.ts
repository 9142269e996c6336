import { describe, expect, it } from "vitest";
import { mkdtempSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createPrivateKey, X509Certificate } from "node:crypto";
import { CaError, initCa, issueNodeCertificate } from "../../../src/identity/ca.js";
import { CertificateError, checkNodeCertificate, parsePemCertificates } from "../../../src/identity/cert-check.js";
import { nodeIdOf } from "../../../src/identity/node-id.js";
import { createPki } from "../../helpers/pki.js";

const DAY = 86_400_000;

function cert(file: string): X509Certificate {
  return new X509Certificate(readFileSync(file));
}

describe("cluster CA", () => {
  it("creates an ECDSA P-256 root whose key file only the owner can read, and refuses to overwrite it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "p2p-ca-"));
    const { certFile, keyFile } = await initCa({ dir });
    const ca = cert(certFile);
    expect(ca.ca).toBe(true);
    expect(ca.publicKey.asymmetricKeyDetails?.namedCurve).toBe("prime256v1");
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(ca.checkPrivateKey(createPrivateKey(readFileSync(keyFile)))).toBe(true);
    await expect(initCa({ dir })).rejects.toThrow(/refusing to overwrite/);
  });

  it("encrypts the CA key with a passphrase, and issuing needs that passphrase", async () => {
    const dir = mkdtempSync(join(tmpdir(), "p2p-ca-"));
    const { keyFile } = await initCa({ dir, passphrase: "correct horse" });
    expect(readFileSync(keyFile, "utf8")).toMatch(/BEGIN ENCRYPTED PRIVATE KEY/);
    await expect(issueNodeCertificate({ dir, nodeId: "a" })).rejects.toThrow(/encrypted: give --passphrase-file/);
    await expect(issueNodeCertificate({ dir, nodeId: "a", passphrase: "wrong one" })).rejects.toThrow(/wrong passphrase/);
    const issued = await issueNodeCertificate({ dir, nodeId: "a", passphrase: "correct horse" });
    expect(nodeIdOf(cert(issued.certFile))).toBe("a");
  });

  it("issues a node certificate naming the node id as a SAN URI plus its hosts, for server and client auth", async () => {
    const pki = await createPki();
    const { certFile, keyFile } = await pki.issue("worker-1", { hosts: ["node1.example", "10.0.0.7"] });
    const c = cert(certFile);
    expect(c.subjectAltName).toBe("URI:p2p://node/worker-1, DNS:node1.example, IP Address:10.0.0.7");
    expect(c.keyUsage).toEqual(expect.arrayContaining(["1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"]));
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(c.checkPrivateKey(createPrivateKey(readFileSync(keyFile)))).toBe(true);
    const checked = checkNodeCertificate(c, parsePemCertificates(pki.caPem), Date.now());
    expect(checked.nodeId).toBe("worker-1");
    expect(checked.notAfter).toBeGreaterThan(Date.now() + 300 * DAY);
  });

  it("refuses bad node ids, hosts and validity", async () => {
    const pki = await createPki();
    await expect(pki.issue("bad id")).rejects.toBeInstanceOf(CaError);
    await expect(pki.issue("a", { hosts: ["no spaces allowed"] })).rejects.toThrow(/--host/);
    await expect(pki.issue("a", { days: 0 })).rejects.toThrow(/--days/);
  });
});

describe("node certificate checks", () => {
  it("refuses a certificate from another CA", async () => {
    const ours = await createPki("ours");
    const theirs = await createPki("theirs");
    const { certFile } = await theirs.issue("a");
    expect(() => checkNodeCertificate(cert(certFile), parsePemCertificates(ours.caPem), Date.now())).toThrow(expect.objectContaining({ problem: "untrusted" }));
  });

  it("refuses an expired certificate and one not valid yet", async () => {
    const pki = await createPki();
    const { certFile } = await pki.issue("a", { now: Date.now() - 10 * DAY, days: 2 });
    const cas = parsePemCertificates(pki.caPem);
    expect(() => checkNodeCertificate(cert(certFile), cas, Date.now())).toThrow(expect.objectContaining({ problem: "expired" }));
    const later = await pki.issue("b", { now: Date.now() + 10 * DAY });
    expect(() => checkNodeCertificate(cert(later.certFile), cas, Date.now())).toThrow(expect.objectContaining({ problem: "not_yet_valid" }));
  });

  it("accepts any CA of a bundle (CA rotation) and refuses the CA certificate itself as a node", async () => {
    const old = await createPki("old");
    const fresh = await createPki("new");
    const bundle = parsePemCertificates(old.caPem + fresh.caPem);
    expect(bundle).toHaveLength(2);
    for (const pki of [old, fresh]) {
      const { certFile } = await pki.issue("n");
      expect(checkNodeCertificate(cert(certFile), bundle, Date.now()).nodeId).toBe("n");
    }
    expect(() => checkNodeCertificate(bundle[0]!, bundle, Date.now())).toThrow(CertificateError);
  });

  it("reads the node id only from a well-formed p2p URI", () => {
    expect(nodeIdOf({ subjectAltName: "DNS:a, URI:p2p://node/x-1" })).toBe("x-1");
    expect(nodeIdOf({ subjectAltName: 'URI:"p2p://node/x, URI:p2p://node/y"' })).toBeNull();
    expect(nodeIdOf({ subjectAltName: "URI:p2p://node/x, URI:p2p://node/y" })).toBeNull();
    expect(nodeIdOf({ subjectAltName: "URI:https://node/x" })).toBeNull();
    expect(nodeIdOf({ subjectAltName: undefined })).toBeNull();
  });
});
