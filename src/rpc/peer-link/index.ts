export { PeerLinkServer, type PeerLinkServerOptions, type PeerLinkServerStats } from "./server.js";
export { PeerLinkPool, type PeerLinkPoolOptions, type PeerLinkPoolStats } from "./pool.js";
export { LINK_PROTOCOL, type CallerRole, type LinkCall, type LinkHandler, type LinkLogger, type LinkTarget } from "./types.js";
