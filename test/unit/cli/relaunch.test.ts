import { describe, expect, it } from "vitest";
import { MALLOC_ENV, RELAUNCH_ENV, relaunchPlan, type RelaunchInput } from "../../../src/cli/relaunch.js";

const base: RelaunchInput = {
  argv: ["/usr/bin/node", "/app/bin/p2p.js", "worker", "--port", "8002"],
  execArgv: ["--max-semi-space-size=8"],
  execPath: "/usr/bin/node",
  env: { PATH: "/usr/bin", P2P_JWT_SECRET: "s" },
  platform: "linux",
  canExec: true,
};

describe("relaunchPlan", () => {
  it("replaces a starting node with the same command, flags and environment plus the malloc settings", () => {
    const plan = relaunchPlan(base);
    expect(plan).toEqual({
      file: "/usr/bin/node",
      args: ["/usr/bin/node", "--max-semi-space-size=8", "/app/bin/p2p.js", "worker", "--port", "8002"],
      env: { PATH: "/usr/bin", P2P_JWT_SECRET: "s", ...MALLOC_ENV, [RELAUNCH_ENV]: "1" },
    });
  });

  it("runs once: the relaunched process starts as is", () => {
    const plan = relaunchPlan(base)!;
    expect(relaunchPlan({ ...base, env: plan.env })).toBeNull();
  });

  it("keeps what the operator set and adds only what is missing", () => {
    const plan = relaunchPlan({ ...base, env: { ...base.env, MALLOC_ARENA_MAX: "4" } })!;
    expect(plan.env.MALLOC_ARENA_MAX).toBe("4");
    expect(plan.env.MALLOC_TRIM_THRESHOLD_).toBe(MALLOC_ENV.MALLOC_TRIM_THRESHOLD_);
    expect(relaunchPlan({ ...base, env: { ...base.env, ...MALLOC_ENV } })).toBeNull();
  });

  it("starts as is when the operator opts out, off Linux, without execve, and for commands that are not a node", () => {
    expect(relaunchPlan({ ...base, env: { ...base.env, [RELAUNCH_ENV]: "0" } })).toBeNull();
    expect(relaunchPlan({ ...base, platform: "darwin" })).toBeNull();
    expect(relaunchPlan({ ...base, canExec: false })).toBeNull();
    expect(relaunchPlan({ ...base, argv: ["/usr/bin/node", "/app/bin/p2p.js", "token"] })).toBeNull();
    expect(relaunchPlan({ ...base, argv: ["/usr/bin/node", "/app/bin/p2p.js"] })).toBeNull();
  });
});
