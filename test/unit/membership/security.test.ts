import { afterEach, describe, expect, it } from "vitest";
import { encodeHeader, MessageType } from "../../../src/cluster/membership/messages.js";
import { Keyring } from "../../../src/security/keyring.js";
import { RawPeer } from "./raw-peer.js";
import { SimCluster, buildCluster } from "./sim.js";

let sim: SimCluster | null = null;
afterEach(async () => {
  await sim?.shutdown();
  sim = null;
});

const enc = (s: string) => new TextEncoder().encode(s);

function snapshot(s: SimCluster, names: string[]): string {
  return JSON.stringify(names.map((n) => s.nodes.get(n)!.members().map((m) => [m.name, m.state, m.incarnation, m.address]).sort()));
}

describe("membership security", () => {
  it("forged packets (other key, unsealed, garbage, stale) change nothing and are counted as dropped", async () => {
    sim = new SimCluster({ seed: 21, secret: "cluster-key" });
    const names = await buildCluster(sim, 5);
    await sim.runUntil(() => sim!.converged(names, new Set(names)), 10_000);
    const before = snapshot(sim, names);
    const target = SimCluster.address("n1");
    const forged = [
      { type: MessageType.Dead as const, name: "n2", incarnation: 99, from: "n0" },
      { type: MessageType.Alive as const, name: "phantom", address: "phantom:1", incarnation: 1, meta: enc("") },
    ];
    const wrongKey = new RawPeer(sim.net, "n0", "evil1:7946", Keyring.fromSecret("other-key"), sim.clock);
    const plaintext = new RawPeer(sim.net, "n0", "evil2:7946", Keyring.fromSecret(undefined), sim.clock);
    const replayer = new RawPeer(sim.net, "n0", "evil3:7946", sim.keyring, sim.clock);
    wrongKey.send(target, forged);
    plaintext.send(target, forged);
    replayer.send(target, forged, sim.clock.now() - 60_000); // outside the 30 s replay window
    const garbage = wrongKey.transport;
    garbage.sendPacket(target, new Uint8Array([1, 2, 3]));
    garbage.sendPacket(target, new Uint8Array(0));
    // Authentic seal around a body that does not decode.
    garbage.sendPacket(target, sim.keyring.seal(new Uint8Array([2, 0, 0, 9]), "gossip"));
    // An authentic packet of protocol version 1 (a member not upgraded yet): dropped whole.
    garbage.sendPacket(target, sim.keyring.seal(Buffer.concat([Buffer.from([1]), encodeHeader({ sentAt: sim.clock.now(), sender: "n0" }).subarray(1)]), "gossip"));
    await sim.run(2_000);
    expect(snapshot(sim, names)).toBe(before);
    const drops = sim.drops.get("n1")!;
    expect(drops["unauthenticated"]).toBe(4);
    expect(drops["replay-window"]).toBe(1);
    expect(drops["decode"]).toBe(1);
    expect(drops["protocol-version"]).toBe(1);
    // A push-pull with the wrong key is refused as well.
    await expect(Promise.race([wrongKey.pushPull(target, []), sim.run(2_000).then(() => "timeout")])).rejects.toThrow();
    expect(sim.drops.get("n1")!["unauthenticated"]).toBe(5);
  });

  it("a flood of packets that do not open costs one address 64 opens per 10 s; members keep talking", async () => {
    sim = new SimCluster({ seed: 24, secret: "cluster-key" });
    const names = await buildCluster(sim, 3);
    await sim.runUntil(() => sim!.converged(names, new Set(names)), 10_000);
    const wrongKey = Keyring.fromSecret("other-key");
    const flooder = new RawPeer(sim.net, "n0", "evil:7946", wrongKey, sim.clock);
    const target = SimCluster.address("n1");
    // Every member shares this keyring: count the opens that failed (members' packets all open).
    let failedOpens = 0;
    const keyring = sim.keyring;
    const realOpen = keyring.open.bind(keyring);
    keyring.open = (data, purpose) => {
      const plain = realOpen(data, purpose);
      if (!plain) failedOpens++;
      return plain;
    };
    for (let i = 0; i < 1_000; i++) flooder.send(target, [{ type: MessageType.Ping, seq: i, target: "n1" }]);
    await sim.run(2_000);
    expect(sim.drops.get("n1")!["unauthenticated"]).toBe(1_000); // all dropped and counted
    expect(failedOpens).toBe(64); // only the budget was spent on opening them
    await sim.run(10_000);
    for (let i = 0; i < 100; i++) flooder.send(target, [{ type: MessageType.Ping, seq: i, target: "n1" }]);
    await sim.run(500);
    expect(failedOpens).toBe(128); // a new window, a new budget
    expect(sim.converged(names, new Set(names))).toBe(true);
  });

  it("a member with the wrong key cannot join", async () => {
    sim = new SimCluster({ seed: 22, secret: "cluster-key" });
    const names = await buildCluster(sim, 5);
    await sim.runUntil(() => sim!.converged(names, new Set(names)), 10_000);
    const intruder = sim.add("intruder", { keyring: Keyring.fromSecret("wrong-key") });
    const reached = intruder.join([SimCluster.address("n0")]);
    await sim.run(500);
    expect(await reached).toBe(0);
    await sim.run(10_000);
    for (const n of names) expect(sim.view(n, "intruder")).toBeUndefined();
    expect(intruder.members().map((m) => m.name)).toEqual(["intruder"]);
  });

  it("key rotation step one: a member that already knows the next key as secondary still talks", async () => {
    sim = new SimCluster({ seed: 23, secret: "old" });
    const names = await buildCluster(sim, 4);
    await sim.runUntil(() => sim!.converged(names, new Set(names)), 10_000);
    const rotated = sim.add("rotated", { keyring: Keyring.fromSecret("old,new") });
    const reached = rotated.join([SimCluster.address("n0")]);
    await sim.run(500);
    expect(await reached).toBe(1);
    const all = [...names, "rotated"];
    expect(await sim.runUntil(() => sim!.converged(all, new Set(all)), 10_000)).toBeGreaterThanOrEqual(0);
  });
});
