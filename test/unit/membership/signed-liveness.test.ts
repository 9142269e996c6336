import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { SimCluster } from "./sim.js";
import { RawPeer } from "./raw-peer.js";
import { MessageType } from "../../../src/cluster/membership/messages.js";
import { NodeTls } from "../../../src/identity/node-tls.js";
import { CertificateProofs } from "../../../src/identity/liveness-proofs.js";
import { createPki, type TestPki } from "../../helpers/pki.js";

let pki: TestPki;
const tlsOf = new Map<string, NodeTls>();

async function identity(name: string): Promise<NodeTls> {
  const { certFile, keyFile } = await pki.issue(name);
  const tls = NodeTls.load({ certFile, keyFile, caFiles: [pki.caFile] }, name);
  tlsOf.set(name, tls);
  return tls;
}

beforeAll(async () => {
  pki = await createPki();
  for (const name of ["n0", "n1", "n2", "forger"]) await identity(name);
});

let sim: SimCluster;
afterEach(async () => sim?.shutdown());

/** Three members with certificates (or none: the control), plus a raw peer holding the cluster key. */
async function cluster(withProofs: boolean): Promise<RawPeer> {
  sim = new SimCluster({ secret: "cluster-key", seed: 7 });
  for (const name of ["n0", "n1", "n2"]) {
    const node = sim.add(name, withProofs ? { options: { proofs: new CertificateProofs(tlsOf.get(name)!) } } : {});
    if (name !== "n0") void node.join([SimCluster.address("n0")]);
    await sim.run(50);
  }
  const all = new Set(["n0", "n1", "n2"]);
  expect(await sim.runUntil(() => sim.converged(all, all), 10_000)).toBeGreaterThanOrEqual(0);
  return new RawPeer(sim.net, "forger", SimCluster.address("forger"), sim.keyring, sim.clock);
}

function member(of: string, name: string) {
  return sim.view(of, name);
}

describe("signed liveness", () => {
  it("members with certificates join, gossip and see each other alive", async () => {
    await cluster(true);
    for (const name of ["n0", "n1", "n2"]) expect(member(name, "n1")?.state).toBe("alive");
  });

  it("a key holder cannot join under a name it has no certificate for", async () => {
    const forger = await cluster(true);
    forger.send(SimCluster.address("n0"), [{ type: MessageType.Alive, name: "ghost", address: SimCluster.address("forger"), incarnation: 1, meta: new Uint8Array() }]);
    // Signed with its own (valid) certificate, but for another name:
    const signer = new CertificateProofs(tlsOf.get("forger")!);
    forger.send(SimCluster.address("n0"), [{ type: MessageType.Alive, name: "ghost2", address: SimCluster.address("forger"), incarnation: 1, meta: new Uint8Array(), proof: signer.sign(new Uint8Array([1])) }]);
    await sim.run(2_000);
    expect(member("n0", "ghost")).toBeUndefined();
    expect(member("n0", "ghost2")).toBeUndefined();
  });

  it("a key holder cannot move a member to its own address, nor announce its leave", async () => {
    const forger = await cluster(true);
    const before = member("n0", "n1")!;
    forger.send(SimCluster.address("n0"), [{ type: MessageType.Alive, name: "n1", address: SimCluster.address("forger"), incarnation: before.incarnation + 10, meta: new Uint8Array() }]);
    forger.send(SimCluster.address("n2"), [{ type: MessageType.Dead, name: "n1", incarnation: before.incarnation + 10, from: "n1" }]);
    await sim.run(2_000);
    for (const of of ["n0", "n2"]) {
      expect(member(of, "n1")).toMatchObject({ state: "alive", address: SimCluster.address("n1") });
    }
    expect(sim.totalDrops("unproven")).toBeGreaterThanOrEqual(2);
  });

  it("a key holder cannot refute the suspicion of a crashed member, which is declared dead (without proofs it can)", async () => {
    for (const withProofs of [true, false]) {
      const forger = await cluster(withProofs);
      sim.net.partition([SimCluster.address("n2")], [SimCluster.address("n0"), SimCluster.address("n1")]);
      await sim.runUntil(() => member("n0", "n2")?.state === "suspect", 10_000);
      // Keep refuting on n2's behalf, as the forger would, until a death would be certain.
      for (let i = 0; i < 20; i++) {
        const inc = (member("n0", "n2")?.incarnation ?? 0) + 1;
        for (const to of ["n0", "n1"]) forger.send(SimCluster.address(to), [{ type: MessageType.Alive, name: "n2", address: SimCluster.address("n2"), incarnation: inc, meta: new Uint8Array() }]);
        await sim.run(500);
      }
      expect(member("n0", "n2")?.state === "dead").toBe(withProofs);
      await sim.shutdown();
    }
  });

  it("a death declared by another member only starts a suspicion, which a live member refutes; a crashed one is still dead everywhere within 10 s", async () => {
    const forger = await cluster(true);
    const inc = member("n0", "n1")!.incarnation;
    const seen: string[] = [];
    for (const of of ["n0", "n2"]) sim.nodes.get(of)!.onChange((m) => m.name === "n1" && seen.push(m.state));
    for (let i = 0; i < 5; i++) {
      for (const to of ["n0", "n2"]) forger.send(SimCluster.address(to), [{ type: MessageType.Dead, name: "n1", incarnation: inc, from: "forger" }]);
      await sim.run(200);
    }
    await sim.run(3_000);
    for (const of of ["n0", "n2"]) expect(member(of, "n1")?.state).toBe("alive");
    expect(seen).not.toContain("dead"); // at most suspected, then refuted

    sim.net.partition([SimCluster.address("n2")], [SimCluster.address("n0"), SimCluster.address("n1")]);
    const took = await sim.runUntil(() => member("n0", "n2")?.state === "dead" && member("n1", "n2")?.state === "dead", 10_000);
    expect(took).toBeGreaterThanOrEqual(0);
  });

  it("a member whose certificate was renewed is believed again once its new certificate is fetched", async () => {
    await cluster(true);
    await pki.issue("n1", { days: 30 });
    tlsOf.get("n1")!.reload();
    const before = member("n0", "n1")!.incarnation;
    sim.nodes.get("n1")!.updateMeta(new Uint8Array([1, 2, 3]));
    expect(await sim.runUntil(() => (member("n0", "n1")?.incarnation ?? 0) > before && member("n2", "n1")!.incarnation > before, 15_000)).toBeGreaterThanOrEqual(0);
    expect(Array.from(member("n0", "n1")!.meta)).toEqual([1, 2, 3]);
  });
});
