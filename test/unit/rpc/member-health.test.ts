import { describe, expect, it } from "vitest";
import type { MemberState, MemberView } from "../../../src/cluster/types.js";
import { MemberHealth } from "../../../src/rpc/member-health.js";

const view = (nodeId: string, state: MemberState): MemberView => ({ nodeId, address: "127.0.0.1:1", state, incarnation: 0, lastChange: 0, meta: null });

describe("membership as the pipeline's health signal", () => {
  it("tells a watcher once when its node turns suspect; an unsubscribed watcher hears nothing", () => {
    let members = [view("a", "alive"), view("b", "alive")];
    const health = new MemberHealth({ members: () => members }, () => undefined);
    health.update();
    const heard: string[] = [];
    health.watch("a", () => heard.push("a"));
    const off = health.watch("b", () => heard.push("b"));
    off();
    members = [view("a", "suspect"), view("b", "suspect")];
    health.update();
    members = [view("a", "dead"), view("b", "dead")];
    health.update();
    expect(heard).toEqual(["a"]);
  });

  it("a call sent knowingly to a suspect node is told only when it gets worse", () => {
    let members = [view("a", "suspect")];
    const health = new MemberHealth({ members: () => members }, () => undefined);
    health.update();
    let heard = 0;
    health.watch("a", () => heard++);
    health.update();
    expect(heard).toBe(0);
    members = [view("a", "dead")];
    health.update();
    expect(heard).toBe(1);
  });

  it("reports nodes that come back to alive (membership confirms reachability)", () => {
    let members = [view("a", "alive")];
    const back: string[] = [];
    const health = new MemberHealth({ members: () => members }, (id) => back.push(id));
    health.update();
    members = [view("a", "suspect")];
    health.update();
    members = [view("a", "alive")];
    health.update();
    health.update();
    expect(back).toEqual(["a"]);
  });
});
