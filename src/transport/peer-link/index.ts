/**
 * The peer link: node-to-node calls over one persistent, multiplexed, authenticated and
 * encrypted connection per pair of nodes, reached by an HTTP upgrade to "p2p-link".
 * A link carries calls both ways when the node's PeerLinkServer is given its PeerLinkPool.
 * PeerLinkPool.call() rejects with a P2PError:
 *   - the remote handler's error, code/message/data intact (anything else → INTERNAL);
 *   - UNAVAILABLE {reason:"not_sent"}: provably never sent (connect refused or failed,
 *     handshake refused: wrong cluster key, other node id; broken before the write; pool closed);
 *   - UNAVAILABLE {reason:"connection_lost"}: the link broke after the request was written
 *     (it may have run): fails at once, not at the deadline;
 *   - TIMEOUT: no answer within call.timeoutMs ({reason:"not_sent"} if still connecting).
 */
export { PeerLinkServer, type PeerLinkServerOptions, type PeerLinkServerStats } from "./server.js";
export { PeerLinkPool, type PeerLinkPoolOptions, type PeerLinkPoolStats } from "./pool.js";
export { LINK_PROTOCOL, type CallerRole, type LinkCall, type LinkHandler, type LinkLogger, type LinkTarget, type ServedCall } from "./types.js";
