import { createSocket } from "node:dgram";
import { deflateRawSync } from "node:zlib";
import { encodeHeader, encodeMessage, type Message } from "../../src/cluster/membership/messages.js";
import { Keyring } from "../../src/security/keyring.js";
import { TEST_SECRETS } from "./launcher.js";

/**
 * Crafted gossip for hostile-input tests: sealed with the test cluster key (or plaintext with
 * `secret` null); `protocolVersion` overwrites the version byte (a member of another version).
 */
export function forgedPacket(sender: string, messages: Message[], secret: string | null = TEST_SECRETS.P2P_CLUSTER_KEY, protocolVersion?: number): Buffer {
  const body = Buffer.concat([encodeHeader({ sentAt: Date.now(), sender }), ...messages.map(encodeMessage)]);
  if (protocolVersion !== undefined) body[0] = protocolVersion;
  return Keyring.fromSecret(secret ?? undefined).seal(body, "gossip");
}

/** Metadata bytes as a node would gossip them, but with any content. */
export function rawMeta(value: unknown): Uint8Array {
  return deflateRawSync(Buffer.from(JSON.stringify(value)));
}

/** Sends one UDP datagram to 127.0.0.1:port from `bindAddress` (any loopback address). */
export async function sendUdp(port: number, data: Uint8Array, bindAddress = "127.0.0.1"): Promise<void> {
  const socket = createSocket("udp4");
  await new Promise<void>((resolve) => socket.bind(0, bindAddress, () => resolve()));
  await new Promise<void>((resolve, reject) => socket.send(data, port, "127.0.0.1", (err) => (err ? reject(err) : resolve())));
  await new Promise<void>((resolve) => socket.close(() => resolve()));
}
