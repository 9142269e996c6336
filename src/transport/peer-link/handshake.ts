import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from "node:crypto";
import type { Socket } from "node:net";
import type { Keyring } from "../../security/keyring.js";
import { DEFAULT_MAX_FRAME, encodeFrame } from "../framing.js";
import type { FrameReader } from "./frame-reader.js";

/**
 * Link handshake (plaintext frames, JSON):
 *   C→S hello   {v, node, nonce, auth, max, duplex?}    duplex: the client also serves calls on this link
 *   S→C welcome {v, node, nonce, auth, max, proof}     proof = HMAC(K, "server" | Nc | Ns | ids)
 *   C→S proof   {proof}                     proof = HMAC(K, "client" | Nc | Ns | ids)
 *   S→C ready   (or reject {reason, code?})
 * The server decides whether the proven id may link from where it connects (`admit`)
 * before it says ready: a refused link never carries a call, either way.
 * Both nonces are fresh, so a recorded proof never verifies again (no replays); the
 * "server"/"client" labels stop one side's proof being reflected as the other's.
 * Session keys: HKDF(K, salt = Nc|Ns, ids) → one AES-256-GCM key per direction.
 * With no cluster keys on both sides (development mode) there is no proof and no sealing.
 * Both sides speak one link version (`v`; the frames after the handshake are version 2's
 * binary ones, messages.ts): a hello of another version is refused with a reject naming
 * both (code "version"), and the version is in the proofs and the session keys' HKDF info.
 */
export const LINK_VERSION = 2;
const NONCE_BYTES = 32;

/**
 * "identity": the key is proven but the claimed node id may not link from there (another
 * address than membership knows for it); "duplicate": that node already has a live link.
 */
export type HandshakeFailure = "auth" | "mode" | "node_id" | "protocol" | "identity" | "duplicate" | "version";

/** Refusal codes the server names in its reject frame (so the client can tell them apart). */
const REJECT_CODES: readonly HandshakeFailure[] = ["identity", "duplicate", "version"];

export interface Refusal {
  kind: "identity" | "duplicate";
  reason: string;
}

/** Server side, once the peer has proven the key: null lets `remoteNodeId` link, a Refusal refuses it. */
export type AdmitLink = (remoteNodeId: string) => Promise<Refusal | null> | Refusal | null;

export class HandshakeError extends Error {
  constructor(
    readonly kind: HandshakeFailure,
    message: string,
  ) {
    super(message);
    this.name = "HandshakeError";
  }
}

export interface SessionKeys {
  /** null in development mode (no cluster key): frames travel in plaintext. */
  send: Buffer | null;
  receive: Buffer | null;
}

export interface HandshakeResult {
  remoteNodeId: string;
  keys: SessionKeys;
  /** Largest record to send: the smaller of both sides' frame limits (exchanged as `max`). */
  sendLimit: number;
  /** Server side: the client serves calls too, so this node may call it over the same link. */
  peerServes: boolean;
}

/** The peer's announced frame limit (older or terse peers: the framing default). */
function peerLimit(msg: Record<string, unknown>, local: number): number {
  const max = msg.max;
  if (max === undefined) return Math.min(local, DEFAULT_MAX_FRAME);
  if (typeof max !== "number" || !Number.isInteger(max) || max < 1024) throw new HandshakeError("protocol", "bad frame limit");
  return Math.min(local, max);
}

interface Ids {
  client: string;
  server: string;
  /** The hello's duplex flag: in the proofs so that nobody on the path can flip it. */
  duplex: boolean;
}

function proofOf(key: Buffer, label: string, nc: Buffer, ns: Buffer, ids: Ids): Buffer {
  return createHmac("sha256", key)
    .update(`p2p-link/v${LINK_VERSION}|${label}|`)
    .update(nc)
    .update(ns)
    .update(`${ids.client}\0${ids.server}${ids.duplex ? "\0duplex" : ""}`)
    .digest();
}

/**
 * Inside mutual TLS (node certificates) the link does not seal its frames a second time: TLS
 * already encrypts and authenticates every byte, and both ends see the same kind of socket,
 * so they agree without saying so. The cluster-key proofs above still run.
 */
function overTls(socket: Socket): boolean {
  return (socket as Socket & { encrypted?: boolean }).encrypted === true;
}

function sessionKeys(key: Buffer, nc: Buffer, ns: Buffer, ids: Ids, side: "client" | "server"): SessionKeys {
  const info = `p2p-link/v${LINK_VERSION} session|${ids.client}\0${ids.server}`;
  const material = Buffer.from(hkdfSync("sha256", key, Buffer.concat([nc, ns]), info, 64));
  const clientToServer = material.subarray(0, 32);
  const serverToClient = material.subarray(32, 64);
  return side === "client"
    ? { send: clientToServer, receive: serverToClient }
    : { send: serverToClient, receive: clientToServer };
}

function sameBytes(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

function sendJson(socket: Socket, value: object): void {
  socket.write(encodeFrame(Buffer.from(JSON.stringify(value))));
}

async function readJson(reader: FrameReader, timeoutMs: number): Promise<Record<string, unknown>> {
  const frame = await reader.next(timeoutMs);
  let value: unknown;
  try {
    value = JSON.parse(frame.toString("utf8"));
  } catch {
    throw new HandshakeError("protocol", "handshake frame is not JSON");
  }
  if (!value || typeof value !== "object") throw new HandshakeError("protocol", "handshake frame is not an object");
  const obj = value as Record<string, unknown>;
  if (obj.t === "reject") {
    const kind = REJECT_CODES.find((code) => code === obj.code) ?? "auth";
    throw new HandshakeError(kind, `refused by peer: ${String(obj.reason)}`);
  }
  return obj;
}

function b64(value: unknown, what: string): Buffer {
  if (typeof value !== "string") throw new HandshakeError("protocol", `missing ${what}`);
  return Buffer.from(value, "base64");
}

export async function clientHandshake(
  socket: Socket,
  reader: FrameReader,
  keyring: Keyring,
  localNodeId: string,
  expectedNodeId: string,
  timeoutMs: number,
  maxFrame = DEFAULT_MAX_FRAME,
  duplex = false,
): Promise<HandshakeResult> {
  const nc = randomBytes(NONCE_BYTES);
  const hello: Record<string, unknown> = { t: "hello", v: LINK_VERSION, node: localNodeId, nonce: nc.toString("base64"), auth: keyring.encrypted, max: maxFrame };
  if (duplex) hello.duplex = true;
  sendJson(socket, hello);
  const welcome = await readJson(reader, timeoutMs);
  if (welcome.t !== "welcome") throw new HandshakeError("protocol", "unexpected welcome");
  if (welcome.v !== LINK_VERSION) throw new HandshakeError("version", `peer speaks link version ${String(welcome.v)}, this node ${LINK_VERSION}`);
  const serverId = welcome.node;
  if (typeof serverId !== "string") throw new HandshakeError("protocol", "welcome without node id");
  if (serverId !== expectedNodeId) {
    throw new HandshakeError("node_id", `expected node "${expectedNodeId}" but reached "${serverId}"`);
  }
  const ns = b64(welcome.nonce, "server nonce");
  const sendLimit = peerLimit(welcome, maxFrame);
  const ids = { client: localNodeId, server: serverId, duplex };
  if (!keyring.encrypted) {
    if (welcome.auth !== false) throw new HandshakeError("mode", "peer requires a cluster key, this node has none");
    sendJson(socket, { t: "proof" });
    await expectReady(reader, timeoutMs);
    return { remoteNodeId: serverId, keys: { send: null, receive: null }, sendLimit, peerServes: true };
  }
  if (welcome.auth !== true) throw new HandshakeError("mode", "peer runs without a cluster key (development mode)");
  const serverProof = b64(welcome.proof, "server proof");
  const key = keyring.allKeys.find((k) => sameBytes(proofOf(k, "server", nc, ns, ids), serverProof));
  if (!key) throw new HandshakeError("auth", "cluster key mismatch: the peer could not prove the cluster key");
  sendJson(socket, { t: "proof", proof: proofOf(key, "client", nc, ns, ids).toString("base64") });
  await expectReady(reader, timeoutMs);
  const keys = overTls(socket) ? { send: null, receive: null } : sessionKeys(key, nc, ns, ids, "client");
  return { remoteNodeId: serverId, keys, sendLimit, peerServes: true };
}

async function expectReady(reader: FrameReader, timeoutMs: number): Promise<void> {
  const ready = await readJson(reader, timeoutMs);
  if (ready.t !== "ready") throw new HandshakeError("protocol", "expected ready");
}

export async function serverHandshake(
  socket: Socket,
  reader: FrameReader,
  keyring: Keyring,
  localNodeId: string,
  timeoutMs: number,
  maxFrame = DEFAULT_MAX_FRAME,
  admit: AdmitLink = () => null,
): Promise<HandshakeResult> {
  const hello = await readJson(reader, timeoutMs);
  if (hello.t !== "hello") throw new HandshakeError("protocol", "unexpected hello");
  if (hello.v !== LINK_VERSION) return reject(socket, "version", `link version ${String(hello.v).slice(0, 16)} is not spoken here (this node speaks ${LINK_VERSION})`);
  const clientId = hello.node;
  if (typeof clientId !== "string" || clientId.length === 0 || clientId.length > 256) {
    throw new HandshakeError("protocol", "hello without a node id");
  }
  const nc = b64(hello.nonce, "client nonce");
  if (nc.length !== NONCE_BYTES) throw new HandshakeError("protocol", "bad client nonce");
  const sendLimit = peerLimit(hello, maxFrame);
  const ns = randomBytes(NONCE_BYTES);
  const ids = { client: clientId, server: localNodeId, duplex: hello.duplex === true };
  const key = keyring.primaryKey;
  const welcome: Record<string, unknown> = {
    t: "welcome",
    v: LINK_VERSION,
    node: localNodeId,
    nonce: ns.toString("base64"),
    auth: key !== undefined,
    max: maxFrame,
  };
  if (key) welcome.proof = proofOf(key, "server", nc, ns, ids).toString("base64");
  sendJson(socket, welcome);
  const reply = await readJson(reader, timeoutMs);
  if (reply.t !== "proof") throw new HandshakeError("protocol", "expected proof");
  if (!key) {
    if (hello.auth !== false) return reject(socket, "mode", "this node runs without a cluster key");
    await admitOrReject(socket, admit, clientId);
    sendJson(socket, { t: "ready" });
    return { remoteNodeId: clientId, keys: { send: null, receive: null }, sendLimit, peerServes: hello.duplex === true };
  }
  if (hello.auth !== true) return reject(socket, "mode", "a cluster key is required");
  const clientProof = b64(reply.proof, "client proof");
  if (!sameBytes(proofOf(key, "client", nc, ns, ids), clientProof)) return reject(socket, "auth", "cluster key mismatch");
  await admitOrReject(socket, admit, clientId);
  sendJson(socket, { t: "ready" });
  const keys = overTls(socket) ? { send: null, receive: null } : sessionKeys(key, nc, ns, ids, "server");
  return { remoteNodeId: clientId, keys, sendLimit, peerServes: hello.duplex === true };
}

async function admitOrReject(socket: Socket, admit: AdmitLink, clientId: string): Promise<void> {
  const refusal = await admit(clientId);
  if (refusal) reject(socket, refusal.kind, refusal.reason);
  if (socket.destroyed) throw new HandshakeError("protocol", "connection closed during handshake");
}

function reject(socket: Socket, kind: HandshakeFailure, reason: string): never {
  sendJson(socket, REJECT_CODES.includes(kind) ? { t: "reject", reason, code: kind } : { t: "reject", reason });
  throw new HandshakeError(kind, reason);
}
