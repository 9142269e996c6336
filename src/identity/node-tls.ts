import { readFileSync } from "node:fs";
import { createPrivateKey, X509Certificate } from "node:crypto";
import { createSecureContext, TLSSocket, type ConnectionOptions, type PeerCertificate, type SecureContext } from "node:tls";
import type { ServerOptions as HttpsServerOptions } from "node:https";
import type { Socket } from "node:net";
import { CertificateError, checkNodeCertificate, parsePemCertificates } from "./cert-check.js";
import { nodeIdOf } from "./node-id.js";

/**
 * The node's TLS identity: its certificate and key, the cluster CA(s), and an operator's
 * own API certificate when given. One port serves both:
 *  - nodes dial with the server name NODE_SERVERNAME and get the node certificate; both
 *    sides present node certificates and each checks the other's against the cluster CAs
 *    and the node id it expects (the SAN URI p2p://node/ID, never a host name);
 *  - other clients (curl, browsers, the CLI) get the API certificate, or the node's.
 * `reload()` re-reads every file; new connections use the new material, open ones go on.
 */
export const NODE_SERVERNAME = "node.p2p.internal";

export interface TlsFiles {
  certFile: string;
  keyFile: string;
  /** One or more PEM files, each with one or more CA certificates (CA rotation). */
  caFiles: string[];
  apiCertFile?: string;
  apiKeyFile?: string;
}

export class TlsConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TlsConfigError";
  }
}

interface Material {
  nodeId: string;
  notAfter: number;
  cas: X509Certificate[];
  caPem: string;
  certPem: string;
  keyPem: string;
  nodeContext: SecureContext;
  api: { certPem: string; keyPem: string; notAfter: number } | null;
}

function read(file: string, what: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (err) {
    throw new TlsConfigError(`${what}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
}

function keyMatches(cert: X509Certificate, keyPem: string, what: string): void {
  let ok = false;
  try {
    ok = cert.checkPrivateKey(createPrivateKey(keyPem));
  } catch (err) {
    throw new TlsConfigError(`${what}: not a private key (${err instanceof Error ? err.message : String(err)})`);
  }
  if (!ok) throw new TlsConfigError(`${what}: the key does not belong to the certificate`);
}

/** Reads and checks every file; throws TlsConfigError with one line saying what is wrong. */
function loadMaterial(files: TlsFiles, expectedNodeId: string | null, now: number): Material {
  const caPem = files.caFiles.map((f) => read(f, "--tls-ca")).join("\n");
  const cas = parsePemCertificates(caPem).filter((c) => c.ca);
  if (cas.length === 0) throw new TlsConfigError(`--tls-ca: no CA certificate in ${files.caFiles.join(", ")}`);
  const certPem = read(files.certFile, "--tls-cert");
  const keyPem = read(files.keyFile, "--tls-key");
  const [cert] = parsePemCertificates(certPem);
  if (!cert) throw new TlsConfigError(`--tls-cert: no certificate in ${files.certFile}`);
  let nodeId: string;
  let notAfter: number;
  try {
    ({ nodeId, notAfter } = checkNodeCertificate(cert, cas, now));
  } catch (err) {
    throw new TlsConfigError(`--tls-cert: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (expectedNodeId !== null && nodeId !== expectedNodeId) throw new TlsConfigError(`--tls-cert: the certificate is for node "${nodeId}", this node is "${expectedNodeId}"`);
  keyMatches(cert, keyPem, "--tls-key");
  let api: Material["api"] = null;
  if (files.apiCertFile !== undefined && files.apiKeyFile !== undefined) {
    const apiCertPem = read(files.apiCertFile, "--api-tls-cert");
    const apiKeyPem = read(files.apiKeyFile, "--api-tls-key");
    const [apiCert] = parsePemCertificates(apiCertPem);
    if (!apiCert) throw new TlsConfigError(`--api-tls-cert: no certificate in ${files.apiCertFile}`);
    keyMatches(apiCert, apiKeyPem, "--api-tls-key");
    api = { certPem: apiCertPem, keyPem: apiKeyPem, notAfter: Date.parse(apiCert.validTo) };
  }
  const nodeContext = createSecureContext({ cert: certPem, key: keyPem, ca: caPem, minVersion: "TLSv1.3" });
  return { nodeId, notAfter, cas, caPem, certPem, keyPem, nodeContext, api };
}

export interface CertificateExpiry {
  /** What expires: "node certificate" or "API certificate". */
  what: string;
  notAfter: number;
}

export class NodeTls {
  private material: Material;

  private constructor(
    private readonly files: TlsFiles,
    private readonly expectedNodeId: string,
    private readonly wallClock: () => number,
  ) {
    this.material = loadMaterial(files, expectedNodeId, wallClock());
  }

  /** Loads the files for node `nodeId`; throws TlsConfigError. */
  static load(files: TlsFiles, nodeId: string, wallClock: () => number = Date.now): NodeTls {
    return new NodeTls(files, nodeId, wallClock);
  }

  get nodeId(): string {
    return this.material.nodeId;
  }

  /** When the node certificate expires (ms since the epoch). */
  get notAfter(): number {
    return this.material.notAfter;
  }

  /** Every certificate this node presents, with its expiry. */
  expiries(): CertificateExpiry[] {
    const out = [{ what: "node certificate", notAfter: this.material.notAfter }];
    if (this.material.api) out.push({ what: "API certificate", notAfter: this.material.api.notAfter });
    return out;
  }

  /** The trusted cluster CAs. */
  get cas(): readonly X509Certificate[] {
    return this.material.cas;
  }

  /** The node certificate (PEM) and its private key (PEM): for signing what this node says of itself. */
  get certPem(): string {
    return this.material.certPem;
  }

  get keyPem(): string {
    return this.material.keyPem;
  }

  /**
   * Re-reads every file. On success new connections use the new material; on failure the
   * current one stays and the error is thrown (TlsConfigError).
   */
  reload(): void {
    this.material = loadMaterial(this.files, this.expectedNodeId, this.wallClock());
  }

  /** Options of the HTTPS server (merged with the HTTP ones by the caller). */
  serverOptions(): HttpsServerOptions {
    const m = this.material;
    const options: HttpsServerOptions = {
      cert: m.api?.certPem ?? m.certPem,
      key: m.api?.keyPem ?? m.keyPem,
      // Asked of every client, required only of nodes (checked where their streams arrive).
      ca: m.caPem,
      requestCert: true,
      rejectUnauthorized: false,
      minVersion: "TLSv1.2",
    };
    if (m.api) options.SNICallback = (servername, done) => done(null, servername === NODE_SERVERNAME ? this.material.nodeContext : undefined);
    return options;
  }

  /**
   * Options to dial another node: our certificate, the cluster CAs, and the identity check:
   * the server must prove node `expectedNodeId` (or, when dialling an address whose node is
   * not known yet, any node of the cluster).
   */
  clientOptions(expectedNodeId: string | null): ConnectionOptions {
    return {
      servername: NODE_SERVERNAME,
      secureContext: this.material.nodeContext,
      rejectUnauthorized: true,
      checkServerIdentity: (_host: string, cert: PeerCertificate) => {
        const id = nodeIdOf({ subjectAltName: cert.subjectaltname });
        if (id === null) return new Error("the peer's certificate names no node id");
        if (expectedNodeId !== null && id !== expectedNodeId) return new Error(`expected node "${expectedNodeId}" but the peer's certificate is for "${id}"`);
        return undefined;
      },
    };
  }

  /**
   * The node id a connected peer proved with a certificate of the cluster CA, valid now;
   * otherwise a CertificateError saying why (no certificate, untrusted, expired...).
   */
  peerNodeId(socket: Socket): string {
    if (!(socket instanceof TLSSocket)) throw new CertificateError("untrusted", "not a TLS connection");
    const cert = socket.getPeerX509Certificate();
    if (!cert) throw new CertificateError("untrusted", "no client certificate");
    return checkNodeCertificate(cert, this.material.cas, this.wallClock()).nodeId;
  }
}
