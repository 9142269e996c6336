import { readFileSync } from "node:fs";
import type { StreamSecurity } from "../../src/transport/upgrade.js";
import { NODE_SERVERNAME } from "../../src/identity/node-tls.js";
import { PeerLinkPool } from "../../src/transport/peer-link/index.js";
import { Keyring } from "../../src/security/keyring.js";
import { TEST_SECRETS } from "./launcher.js";

/**
 * A peer that holds the cluster key and presents whatever certificate it is given (another
 * node's, one of another CA, an expired one), claiming any node id: what an impostor does.
 * It does not check the server's identity, so only the server's checks stand in its way.
 */
export function presenting(files: { certFile: string; keyFile: string; caFile: string }): StreamSecurity {
  const cert = readFileSync(files.certFile);
  const key = readFileSync(files.keyFile);
  const ca = readFileSync(files.caFile);
  return {
    clientOptions: () => ({ servername: NODE_SERVERNAME, cert, key, ca, rejectUnauthorized: false }),
    peerNodeId: () => {
      throw new Error("a forged peer accepts nothing");
    },
  };
}

/** Calls `service.method` on node `target` as `claimedId`, presenting `security`'s certificate. */
export async function callAs(claimedId: string, security: StreamSecurity, target: { nodeId: string; port: number }, service = "system", method = "health_check"): Promise<unknown> {
  const pool = new PeerLinkPool({ nodeId: claimedId, keyring: Keyring.fromSecret(TEST_SECRETS.P2P_CLUSTER_KEY), security, connectTimeoutMs: 3_000 });
  try {
    return await pool.call({ nodeId: target.nodeId, host: "127.0.0.1", port: target.port }, { service, method, params: {}, caller: { sub: "forger", role: "admin" }, timeoutMs: 3_000 });
  } finally {
    await pool.close();
  }
}
