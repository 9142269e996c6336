/**
 * What the membership protocol needs from a network, and nothing more. Production: UDP on
 * the node's port for packets, TCP (HTTP upgrade on the same port number) for exchanges.
 * Tests: an in-memory network with loss, delay and partitions on a fake clock.
 * Addresses are "host:port" strings. Payloads are opaque: sealing happens above.
 */
export type PacketHandler = (from: string, data: Uint8Array) => void;
/** `peerNodeId`: the node id the stream's certificate proved (mutual TLS only). */
export type ExchangeHandler = (from: string, data: Uint8Array, peerNodeId?: string) => Promise<Uint8Array>;

export interface Transport {
  /** The address other members use to reach this one ("host:port"). */
  readonly localAddress: string;
  /** Largest payload sendPacket() accepts; bigger ones go through exchange(). */
  readonly maxPacketSize: number;
  /** Best effort, unordered, may be lost. Never throws. */
  sendPacket(to: string, data: Uint8Array): void;
  setPacketHandler(handler: PacketHandler): void;
  /** Reliable request/response (push-pull, join). Rejects on refusal, loss or timeout. */
  exchange(to: string, data: Uint8Array, timeoutMs: number): Promise<Uint8Array>;
  setExchangeHandler(handler: ExchangeHandler): void;
  close(): Promise<void>;
}

export function splitHostPort(address: string): { host: string; port: number } {
  const idx = address.lastIndexOf(":");
  if (idx <= 0) throw new Error(`bad address "${address}": expected host:port`);
  let host = address.slice(0, idx);
  if (host.startsWith("[") && host.endsWith("]")) host = host.slice(1, -1);
  const port = Number(address.slice(idx + 1));
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`bad port in "${address}"`);
  return { host, port };
}
