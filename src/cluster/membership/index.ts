/** Public face of the membership module: what the node wires in. */
export { Membership, type MembershipOptions, type Member, type Logger, type MembershipMetricsSink, type NameConflict } from "./membership.js";
export { aliveStatement, leaveStatement, type LivenessProofs } from "./proofs.js";
export { LAN_DEFAULTS, type MembershipConfig, suspicionTimeout, retransmitLimit, pushPullScale } from "./config.js";
export { REPLAY_WINDOW_MS } from "./wire.js";
