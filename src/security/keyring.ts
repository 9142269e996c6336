import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from "node:crypto";

/**
 * AES-256-GCM keyring derived from P2P_CLUSTER_KEY (a comma-separated list: the first key
 * encrypts, every key decrypts — rotation is add, switch primary, remove).
 * Sealed layout: [version 1 byte][nonce 12][ciphertext][tag 16]. The purpose string
 * (e.g. "gossip", "link") is authenticated data, so a packet of one kind can never be
 * replayed as another, nor across clusters with another label.
 */
const SEALED_VERSION = 1;
const PLAIN_VERSION = 0;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

export class Keyring {
  private readonly keys: Buffer[];

  private constructor(keys: Buffer[]) {
    this.keys = keys;
  }

  /** `secret` undefined or empty → a plaintext (development mode) keyring. */
  static fromSecret(secret: string | undefined): Keyring {
    const parts = (secret ?? "")
      .split(",")
      .map((s) => s.trim())
      .filter((s) => s.length > 0);
    const keys = parts.map((p) => Buffer.from(hkdfSync("sha256", p, "p2p-core", "cluster-key-v1", 32)));
    return new Keyring(keys);
  }

  get encrypted(): boolean {
    return this.keys.length > 0;
  }

  /** Raw key material for purposes other than sealing (e.g. HMAC of link handshakes). */
  get primaryKey(): Buffer | undefined {
    return this.keys[0];
  }

  get allKeys(): readonly Buffer[] {
    return this.keys;
  }

  seal(plain: Uint8Array, purpose: string): Buffer {
    const key = this.keys[0];
    if (!key) {
      const out = Buffer.allocUnsafe(1 + plain.length);
      out[0] = PLAIN_VERSION;
      out.set(plain, 1);
      return out;
    }
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv("aes-256-gcm", key, nonce);
    cipher.setAAD(Buffer.from(purpose));
    const body = Buffer.concat([cipher.update(plain), cipher.final()]);
    return Buffer.concat([Buffer.from([SEALED_VERSION]), nonce, body, cipher.getAuthTag()]);
  }

  /** Returns null when the data is not authentic for any key (or is plaintext while we have keys). */
  open(sealed: Uint8Array, purpose: string): Buffer | null {
    const buf = Buffer.isBuffer(sealed) ? sealed : Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
    if (buf.length < 1) return null;
    const version = buf[0];
    if (this.keys.length === 0) return version === PLAIN_VERSION ? buf.subarray(1) : null;
    if (version !== SEALED_VERSION || buf.length < 1 + NONCE_BYTES + TAG_BYTES) return null;
    const nonce = buf.subarray(1, 1 + NONCE_BYTES);
    const body = buf.subarray(1 + NONCE_BYTES, buf.length - TAG_BYTES);
    const tag = buf.subarray(buf.length - TAG_BYTES);
    for (const key of this.keys) {
      try {
        const decipher = createDecipheriv("aes-256-gcm", key, nonce);
        decipher.setAAD(Buffer.from(purpose));
        decipher.setAuthTag(tag);
        return Buffer.concat([decipher.update(body), decipher.final()]);
      } catch {
        // try the next key
      }
    }
    return null;
  }

  /** Bytes added by seal(): budget for packet sizing. */
  get overhead(): number {
    return this.keys.length > 0 ? 1 + NONCE_BYTES + TAG_BYTES : 1;
  }
}
