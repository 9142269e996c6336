import { describe, expect, it } from "vitest";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DesiredState } from "../../../src/deploy/desired-state.js";
import { place } from "../../../src/deploy/placement.js";
import type { MemberView } from "../../../src/cluster/types.js";

const A = "a".repeat(64);
const B = "b".repeat(64);
const C = "c".repeat(64);
const dir = () => mkdtempSync(join(tmpdir(), "p2p-desired-"));

function member(nodeId: string, state: MemberView["state"] = "alive", labels: Record<string, string> = {}, role: "worker" | "coordinator" = "worker"): MemberView {
  return { nodeId, address: "127.0.0.1:1", state, incarnation: 1, lastChange: 0, meta: { role, version: "x", started_at: 0, services: [], labels } };
}

describe("desired state", () => {
  it("two concurrent writes of the same generation end with the same winner whatever the order", async () => {
    const [s1, s2, s3] = [new DesiredState(dir(), "n1"), new DesiredState(dir(), "n2"), new DesiredState(dir(), "n3")];
    const w1 = s1.draft("svc", { artifact: A, placement: {} }, "alice");
    const w2 = s2.draft("svc", { artifact: B, placement: {} }, "bob");
    expect(w1.generation).toBe(w2.generation);
    await s1.merge([w1]);
    await s1.merge([w2]);
    await s2.merge([w2]);
    await s2.merge([w1]);
    await s3.merge([w2, w1]);
    const winner = s1.get("svc")!.write_id;
    expect(s2.get("svc")!.write_id).toBe(winner);
    expect(s3.get("svc")!.write_id).toBe(winner);
  });

  it("the generation only grows; history feeds rollback; an undeploy is a tombstone an old copy cannot undo", async () => {
    const s = new DesiredState(dir(), "n1");
    const g1 = s.draft("svc", { artifact: A, placement: {} }, "x");
    await s.merge([g1]);
    await s.merge([s.draft("svc", { artifact: B, placement: {} }, "x")]);
    await s.merge([s.draft("svc", { artifact: C, placement: {} }, "x")]);
    expect(s.get("svc")).toMatchObject({ generation: 3, artifact: C, history: [A, B] });
    await s.merge([s.draft("svc", { rollback: true }, "x")]);
    expect(s.get("svc")).toMatchObject({ generation: 4, artifact: B, history: [A], rolled_back: true });
    await s.merge([s.draft("svc", { deleted: true }, "x")]);
    expect(s.live()).toEqual([]);
    expect(await s.merge([g1])).toEqual([]);
    expect(s.get("svc")!.deleted).toBe(true);
  });

  it("survives a restart: a new instance on the same data dir reads the same records", async () => {
    const d = dir();
    const s = new DesiredState(d, "n1");
    await s.merge([s.draft("svc", { artifact: A, placement: { role: "worker", count: 2 } }, "x")]);
    const again = new DesiredState(d, "n1");
    await again.load();
    expect(again.all()).toEqual(s.all());
  });
});

describe("placement", () => {
  const members = [member("w1", "alive", { zone: "a" }), member("w2", "alive", { zone: "b" }), member("w3", "alive", { zone: "b" }), member("c1", "alive", {}, "coordinator"), member("w4", "dead", { zone: "b" })];

  it("matches role and labels, skipping departed members", () => {
    expect(place("s", { role: "worker" }, members).targets).toEqual(["w1", "w2", "w3"]);
    expect(place("s", { labels: { zone: "b" } }, members).targets).toEqual(["w2", "w3"]);
    expect(place("s", { nodes: ["w4", "c1"] }, members)).toEqual({ targets: ["c1", "w4"], wanted: 2 });
  });

  it("count picks by rendezvous hashing: the same everywhere, and a departure moves only the departed share", () => {
    const full = place("svc", { role: "worker", count: 2 }, members).targets;
    expect(full).toHaveLength(2);
    expect(place("svc", { role: "worker", count: 2 }, [...members].reverse()).targets).toEqual(full);
    const gone = full[0]!;
    const after = place("svc", { role: "worker", count: 2 }, members.map((m) => (m.nodeId === gone ? { ...m, state: "dead" as const } : m))).targets;
    expect(after).toContain(full[1]);
    expect(after).not.toContain(gone);
    expect(place("svc", { labels: { zone: "a" }, count: 3 }, members)).toEqual({ targets: ["w1"], wanted: 3 });
  });
});
