import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { initCa, issueNodeCertificate } from "../../src/identity/ca.js";

/** A throw-away cluster CA in a temporary directory, issuing node certificates on demand. */
export interface TestPki {
  dir: string;
  caFile: string;
  caPem: string;
  /** Issues (or re-issues) a certificate for `nodeId`; returns its files. */
  issue(nodeId: string, options?: { hosts?: string[]; days?: number; now?: number; outDir?: string }): Promise<{ certFile: string; keyFile: string }>;
}

export async function createPki(name = "test CA"): Promise<TestPki> {
  const dir = mkdtempSync(join(tmpdir(), "p2p-pki-"));
  const { certFile } = await initCa({ dir, name });
  return {
    dir,
    caFile: certFile,
    caPem: readFileSync(certFile, "utf8"),
    issue: (nodeId, options = {}) => issueNodeCertificate({ dir, nodeId, hosts: options.hosts ?? ["localhost", "127.0.0.1"], days: options.days, now: options.now, outDir: options.outDir }),
  };
}
