/** --release-key: an Ed25519 public key pinned in the node's own configuration. */
import { createPublicKey, verify, type KeyObject } from "node:crypto";
import { readFileSync } from "node:fs";

export function loadReleaseKey(file: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey(readFileSync(file));
  } catch (err) {
    throw new Error(`--release-key ${file}: not a readable public key (${err instanceof Error ? err.message : String(err)})`);
  }
  if (key.asymmetricKeyType !== "ed25519") throw new Error(`--release-key ${file}: must be an Ed25519 public key, not ${key.asymmetricKeyType}`);
  return key;
}

/** Null when the artifact may run; else why not. */
export function checkSignature(key: KeyObject | null, bytes: Buffer, signature: Buffer | undefined): string | null {
  if (!key) return null;
  if (!signature) return "artifact is not signed, and this node requires signatures (--release-key)";
  return verify(null, bytes, key, signature) ? null : "artifact signature does not match this node's release key";
}
