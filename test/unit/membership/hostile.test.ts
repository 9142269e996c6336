import { afterEach, describe, expect, it } from "vitest";
import { encodeHeader, encodeMessage, MAX_INCARNATION, MessageType, type Message } from "../../../src/cluster/membership/messages.js";
import { INCARNATION_LEAD_MS } from "../../../src/cluster/membership/wire.js";
import type { NameConflict } from "../../../src/cluster/membership/membership.js";
import { RawPeer } from "./raw-peer.js";
import { SimCluster, buildCluster } from "./sim.js";

let sim: SimCluster | null = null;
afterEach(async () => {
  await sim?.shutdown();
  sim = null;
});

const enc = (s: string) => new TextEncoder().encode(s);
/** A wall clock of today's size (incarnations are bounded by it). */
const DEC_2026 = Date.UTC(2026, 11, 1);

/** A sealed gossip packet from `peer`, as bytes, so that it can be sent twice. */
function sealed(s: SimCluster, peer: RawPeer, messages: Message[]): Uint8Array {
  const body = Buffer.concat([encodeHeader({ sentAt: s.clock.now(), sender: peer.name }), ...messages.map(encodeMessage)]);
  return s.keyring.seal(body, "gossip");
}

describe("membership against a cluster-key holder", () => {
  it("a forged alive at incarnation 2^32-1 does not take a member over: it refutes above it (no wrap)", async () => {
    sim = new SimCluster({ seed: 41, secret: "cluster-key", startAt: DEC_2026 });
    const names = await buildCluster(sim, 5);
    await sim.runUntil(() => sim!.converged(names, new Set(names)), 10_000);
    const evil = new RawPeer(sim.net, "n0", "evil:7946", sim.keyring, sim.clock);
    evil.send(SimCluster.address("n1"), [{ type: MessageType.Alive, name: "n2", address: "evil:7946", incarnation: 2 ** 32 - 1, meta: enc("") }]);
    const took = await sim.runUntil(() => names.every((n) => sim!.view(n, "n2")?.address === SimCluster.address("n2") && sim!.view(n, "n2")!.incarnation >= 2 ** 32), 10_000);
    expect(took).toBeGreaterThanOrEqual(0);
    expect(sim.nodes.get("n2")!.localMember().incarnation).toBe(2 ** 32);
  });

  it("a forged alive at the largest incarnation any member accepts is still out-bid by its owner", async () => {
    sim = new SimCluster({ seed: 48, secret: "cluster-key", startAt: DEC_2026 });
    const names = await buildCluster(sim, 5);
    await sim.runUntil(() => sim!.converged(names, new Set(names)), 10_000);
    const evil = new RawPeer(sim.net, "n0", "evil:7946", sim.keyring, sim.clock);
    const highest = sim.clock.now() + INCARNATION_LEAD_MS;
    evil.send(SimCluster.address("n1"), [{ type: MessageType.Alive, name: "n2", address: "evil:7946", incarnation: highest, meta: enc("") }]);
    await sim.runUntil(() => names.every((n) => sim!.view(n, "n2")?.address === SimCluster.address("n2") && sim!.view(n, "n2")!.incarnation > highest), 10_000);
    expect(sim.nodes.get("n2")!.localMember().incarnation).toBe(highest + 1);
  });

  it("news beyond the wall clock plus the lead is dropped everywhere, the owner included: no one can be pushed out of reach", async () => {
    sim = new SimCluster({ seed: 49, secret: "cluster-key", startAt: DEC_2026 });
    const names = await buildCluster(sim, 3);
    await sim.runUntil(() => sim!.converged(names, new Set(names)), 10_000);
    const evil = new RawPeer(sim.net, "n0", "evil:7946", sim.keyring, sim.clock);
    const beyond = sim.clock.now() + INCARNATION_LEAD_MS + 1_000;
    const before = sim.nodes.get("n2")!.localMember().incarnation;
    for (const to of ["n1", "n2"]) {
      evil.send(SimCluster.address(to), [
        { type: MessageType.Alive, name: "n2", address: "evil:7946", incarnation: beyond, meta: enc("") },
        { type: MessageType.Dead, name: "n1", incarnation: MAX_INCARNATION, from: "n0" },
      ]);
      await Promise.all([evil.pushPull(SimCluster.address(to), [{ name: "n2", address: "evil:7946", incarnation: 2 ** 53 - 2, state: "alive", meta: enc("") }]), sim.run(500)]);
    }
    await sim.run(2_000);
    for (const n of names) {
      expect(sim.view(n, "n2")?.address).toBe(SimCluster.address("n2"));
      expect(sim.view(n, "n1")?.state).toBe("alive");
    }
    expect(sim.nodes.get("n2")!.localMember().incarnation).toBe(before);
    expect(sim.drops.get("n1")!["implausible-incarnation"]).toBe(2);
    expect(sim.drops.get("n2")!["implausible-incarnation"]).toBe(2);
  });

  it("incarnations beyond the 53-bit limit are dropped at decode, message by message", async () => {
    sim = new SimCluster({ seed: 42, secret: "cluster-key" });
    const names = await buildCluster(sim, 3);
    await sim.runUntil(() => sim!.converged(names, new Set(names)), 10_000);
    const evil = new RawPeer(sim.net, "n0", "evil:7946", sim.keyring, sim.clock);
    evil.send(SimCluster.address("n1"), [
      { type: MessageType.Alive, name: "n2", address: "evil:7946", incarnation: MAX_INCARNATION + 2, meta: enc("") },
      { type: MessageType.Alive, name: "fresh", address: "fresh:7946", incarnation: 3, meta: enc("") },
    ]);
    await sim.run(1_000);
    expect(sim.view("n1", "n2")?.address).toBe(SimCluster.address("n2"));
    expect(sim.view("n1", "fresh")?.incarnation).toBe(3); // the valid message of the same packet is applied
    expect(sim.drops.get("n1")!["invalid-message"]).toBe(1);
  });

  it("bad names and addresses drop the message, not the packet", async () => {
    sim = new SimCluster({ seed: 43, secret: "cluster-key" });
    const names = await buildCluster(sim, 3);
    await sim.runUntil(() => sim!.converged(names, new Set(names)), 10_000);
    const evil = new RawPeer(sim.net, "n0", "evil:7946", sim.keyring, sim.clock);
    evil.send(SimCluster.address("n1"), [
      { type: MessageType.Alive, name: "bad\nname", address: "x:1", incarnation: 1, meta: enc("") },
      { type: MessageType.Alive, name: "noport", address: "x", incarnation: 1, meta: enc("") },
      { type: MessageType.Alive, name: "ok", address: "ok:1", incarnation: 1, meta: enc("") },
    ]);
    await sim.run(1_000);
    expect(sim.view("n1", "bad\nname")).toBeUndefined();
    expect(sim.view("n1", "noport")).toBeUndefined();
    expect(sim.view("n1", "ok")).toBeDefined();
  });

  it("news whose metadata fails the node's check is dropped before the member table", async () => {
    sim = new SimCluster({ seed: 44, secret: "cluster-key" });
    const strict = { validMeta: (meta: Uint8Array) => new TextDecoder().decode(meta) !== "poison" };
    for (const n of ["m0", "m1"]) sim.add(n, { options: strict });
    await Promise.all([sim.nodes.get("m1")!.join([SimCluster.address("m0")]), sim.run(1_000)]);
    await sim.runUntil(() => sim!.converged(["m0", "m1"], new Set(["m0", "m1"])), 10_000);
    const evil = new RawPeer(sim.net, "m0", "evil:7946", sim.keyring, sim.clock);
    evil.send(SimCluster.address("m1"), [{ type: MessageType.Alive, name: "poisoned", address: "p:1", incarnation: 1, meta: enc("poison") }]);
    const [entries] = await Promise.all([
      evil.pushPull(SimCluster.address("m1"), [{ name: "poisoned2", address: "p:2", incarnation: 1, state: "alive", meta: enc("poison") }]),
      sim.run(1_000),
    ]);
    expect(entries.length).toBeGreaterThan(0);
    expect(sim.view("m1", "poisoned")).toBeUndefined();
    expect(sim.view("m1", "poisoned2")).toBeUndefined();
    expect(sim.drops.get("m1")!["invalid-message"]).toBe(2);
  });

  it("a replayed ping within the replay window is not answered", async () => {
    sim = new SimCluster({ seed: 45, secret: "cluster-key" });
    const names = await buildCluster(sim, 3);
    await sim.runUntil(() => sim!.converged(names, new Set(names)), 10_000);
    const evil = new RawPeer(sim.net, "n0", "evil:7946", sim.keyring, sim.clock);
    const packet = sealed(sim, evil, [{ type: MessageType.Ping, seq: 777, target: "n1" }]);
    evil.transport.sendPacket(SimCluster.address("n1"), packet);
    await sim.run(200);
    evil.transport.sendPacket(SimCluster.address("n1"), packet);
    await sim.run(5_000);
    const acks = evil.messages().filter((m) => m.type === MessageType.Ack && m.seq === 777);
    expect(acks).toHaveLength(1);
    expect(sim.drops.get("n1")!["replayed"]).toBe(1);
  });

  it("a second member joining under a live member's name is refused with the holder's address", async () => {
    sim = new SimCluster({ seed: 46, secret: "cluster-key" });
    const names = await buildCluster(sim, 4);
    await sim.runUntil(() => sim!.converged(names, new Set(names)), 10_000);
    const conflicts: NameConflict[] = [];
    const dup = sim.add("n2", { address: "dup:7946", options: { onNameConflict: (c) => conflicts.push(c) } });
    const reached = dup.join([SimCluster.address("n0")]);
    await sim.run(2_000);
    expect(await reached).toBe(0);
    expect(conflicts).toEqual([{ name: "n2", address: SimCluster.address("n2"), seed: SimCluster.address("n0") }]);
    await sim.run(5_000);
    // (the simulation now names the newcomer "n2": look from the others)
    for (const n of names.filter((x) => x !== "n2")) expect(sim.view(n, "n2")?.address).toBe(SimCluster.address("n2"));
  });

  it("joining under the seed's own name is refused too", async () => {
    sim = new SimCluster({ seed: 47, secret: "cluster-key" });
    const names = await buildCluster(sim, 2);
    await sim.runUntil(() => sim!.converged(names, new Set(names)), 10_000);
    const conflicts: NameConflict[] = [];
    const dup = sim.add("n0", { address: "dup:7946", options: { onNameConflict: (c) => conflicts.push(c) } });
    const reached = dup.join([SimCluster.address("n0")]);
    await sim.run(1_000);
    expect(await reached).toBe(0);
    expect(conflicts[0]?.address).toBe(SimCluster.address("n0"));
  });
});
