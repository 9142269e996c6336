import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createPrivateKey, randomBytes, webcrypto, X509Certificate, type KeyObject } from "node:crypto";

type CryptoKey = webcrypto.CryptoKey;
import { isIP } from "node:net";
import { NODE_ID_PATTERN, nodeUri } from "./node-id.js";

/**
 * The cluster CA: an ECDSA P-256 root in `<dir>/ca.crt` and `<dir>/ca.key` (PKCS#8, mode
 * 0600, AES-256 encrypted when a passphrase is given), and node certificates it issues:
 * `<out>/<id>.crt` and `<out>/<id>.key` (mode 0600).
 * Certificates are built with @peculiar/x509, loaded only here (the node itself checks
 * certificates with node:crypto and never loads it).
 */
export const CA_CERT_FILE = "ca.crt";
export const CA_KEY_FILE = "ca.key";
export const CA_DEFAULT_DAYS = 3650;
export const NODE_DEFAULT_DAYS = 365;
const MAX_DAYS = 3650;
const EC = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
const DAY_MS = 86_400_000;
/** Issued certificates start a little in the past, so clocks slightly behind accept them. */
const BACKDATE_MS = 5 * 60_000;

export class CaError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CaError";
  }
}

type X509Lib = typeof import("@peculiar/x509");

let lib: Promise<X509Lib> | null = null;
/** @peculiar/x509 needs a Reflect metadata polyfill (tsyringe) and a crypto provider. */
function x509(): Promise<X509Lib> {
  lib ??= (async () => {
    await import("reflect-metadata");
    const mod = await import("@peculiar/x509");
    mod.cryptoProvider.set(webcrypto as unknown as Parameters<typeof mod.cryptoProvider.set>[0]);
    return mod;
  })();
  return lib;
}

export interface InitOptions {
  dir: string;
  /** Encrypts the CA key (encrypted PKCS#8: PBES2, AES-256-CBC). */
  passphrase?: string;
  days?: number;
  /** The CA's common name. */
  name?: string;
  now?: number;
}

export interface IssueOptions {
  dir: string;
  nodeId: string;
  /** DNS names and IP addresses the certificate also names. */
  hosts?: string[];
  days?: number;
  passphrase?: string;
  /** Where the node's files go (default: `dir`). */
  outDir?: string;
  now?: number;
}

export interface Issued {
  certFile: string;
  keyFile: string;
  notAfter: Date;
}

function checkDays(days: number, what: string): number {
  if (!Number.isInteger(days) || days < 1 || days > MAX_DAYS) throw new CaError(`${what}: must be a whole number of days, 1-${MAX_DAYS}`);
  return days;
}

function serial(): string {
  const bytes = randomBytes(16);
  bytes[0] = bytes[0]! & 0x7f; // positive
  return bytes.toString("hex");
}

function writePrivate(path: string, text: string): void {
  writeFileSync(path, text, { mode: 0o600 });
  chmodSync(path, 0o600); // an existing file keeps its mode on write
}

async function exportKey(key: CryptoKey, passphrase?: string): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey("pkcs8", key));
  const object = createPrivateKey({ key: der, format: "der", type: "pkcs8" });
  const pem = passphrase ? object.export({ format: "pem", type: "pkcs8", cipher: "aes-256-cbc", passphrase }) : object.export({ format: "pem", type: "pkcs8" });
  return pem.toString();
}

/** Creates a new CA in `dir`; refuses to overwrite one. */
export async function initCa(opts: InitOptions): Promise<{ certFile: string; keyFile: string; notAfter: Date }> {
  const days = checkDays(opts.days ?? CA_DEFAULT_DAYS, "--days");
  const certFile = join(opts.dir, CA_CERT_FILE);
  const keyFile = join(opts.dir, CA_KEY_FILE);
  if (existsSync(certFile) || existsSync(keyFile)) throw new CaError(`${opts.dir} already holds a CA (${CA_CERT_FILE}/${CA_KEY_FILE}); refusing to overwrite it`);
  const X = await x509();
  const keys = await webcrypto.subtle.generateKey(EC, true, ["sign", "verify"]);
  const now = opts.now ?? Date.now();
  const cert = await X.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=${(opts.name ?? "P2P Core cluster CA").replace(/[,=+<>#;\\"]/g, " ")}`,
    notBefore: new Date(now - BACKDATE_MS),
    notAfter: new Date(now + days * DAY_MS),
    keys,
    signingAlgorithm: EC,
    extensions: [
      new X.BasicConstraintsExtension(true, 0, true),
      new X.KeyUsagesExtension(X.KeyUsageFlags.keyCertSign | X.KeyUsageFlags.cRLSign, true),
      await X.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  mkdirSync(opts.dir, { recursive: true, mode: 0o700 });
  writePrivate(keyFile, await exportKey(keys.privateKey, opts.passphrase));
  writeFileSync(certFile, cert.toString("pem") + "\n");
  return { certFile, keyFile, notAfter: cert.notAfter };
}

/** Reads the CA of `dir` (its key decrypted with `passphrase` when it is encrypted). */
async function loadCa(dir: string, passphrase: string | undefined): Promise<{ pem: string; cert: X509Certificate; key: CryptoKey }> {
  const certFile = join(dir, CA_CERT_FILE);
  const keyFile = join(dir, CA_KEY_FILE);
  if (!existsSync(certFile) || !existsSync(keyFile)) throw new CaError(`no CA in ${dir}: run "p2p ca init --dir ${dir}" first`);
  const pem = readFileSync(certFile, "utf8");
  let keyObject: KeyObject;
  try {
    keyObject = createPrivateKey({ key: readFileSync(keyFile), passphrase: passphrase ?? "" });
  } catch {
    throw new CaError(passphrase ? `cannot read ${keyFile}: wrong passphrase` : `${keyFile} is encrypted: give --passphrase-file`);
  }
  const der = keyObject.export({ format: "der", type: "pkcs8" });
  const key = await webcrypto.subtle.importKey("pkcs8", der, EC, false, ["sign"]);
  return { pem, cert: new X509Certificate(pem), key };
}

/** Splits hosts into DNS names and IP addresses (each checked). */
function altNames(hosts: readonly string[]): { type: "dns" | "ip"; value: string }[] {
  return hosts.map((host) => {
    if (isIP(host) !== 0) return { type: "ip" as const, value: host };
    if (!/^(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*$/.test(host)) throw new CaError(`--host: "${host}" is neither a DNS name nor an IP address`);
    return { type: "dns" as const, value: host };
  });
}

/** Issues a node certificate: SAN URI p2p://node/<id> plus the hosts, serverAuth + clientAuth. */
export async function issueNodeCertificate(opts: IssueOptions): Promise<Issued> {
  if (!NODE_ID_PATTERN.test(opts.nodeId)) throw new CaError(`--node-id: "${opts.nodeId}" must be 1-128 characters of letters, digits, . _ : -`);
  const days = checkDays(opts.days ?? NODE_DEFAULT_DAYS, "--days");
  const names = altNames(opts.hosts ?? []);
  const ca = await loadCa(opts.dir, opts.passphrase);
  const X = await x509();
  const caCert = new X.X509Certificate(ca.pem);
  const keys = await webcrypto.subtle.generateKey(EC, true, ["sign", "verify"]);
  const now = opts.now ?? Date.now();
  const notAfter = Math.min(now + days * DAY_MS, Date.parse(ca.cert.validTo));
  const cert = await X.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: `CN=${opts.nodeId.replace(/[,=+<>#;\\"]/g, "_")}`,
    issuer: caCert.subject,
    notBefore: new Date(now - BACKDATE_MS),
    notAfter: new Date(notAfter),
    publicKey: keys.publicKey,
    signingKey: ca.key,
    signingAlgorithm: EC,
    extensions: [
      new X.BasicConstraintsExtension(false, undefined, true),
      new X.KeyUsagesExtension(X.KeyUsageFlags.digitalSignature | X.KeyUsageFlags.keyAgreement, true),
      new X.ExtendedKeyUsageExtension([X.ExtendedKeyUsage.serverAuth, X.ExtendedKeyUsage.clientAuth]),
      new X.SubjectAlternativeNameExtension([{ type: "url", value: nodeUri(opts.nodeId) }, ...names]),
      await X.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await X.AuthorityKeyIdentifierExtension.create(caCert),
    ],
  });
  const outDir = opts.outDir ?? opts.dir;
  mkdirSync(outDir, { recursive: true });
  const certFile = join(outDir, `${opts.nodeId}.crt`);
  const keyFile = join(outDir, `${opts.nodeId}.key`);
  writePrivate(keyFile, await exportKey(keys.privateKey));
  writeFileSync(certFile, cert.toString("pem") + "\n");
  return { certFile, keyFile, notAfter: new Date(notAfter) };
}
