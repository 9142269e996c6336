#!/usr/bin/env node
import { relaunchPlan } from "../dist/cli/relaunch.js";

// A node replaces itself once with glibc's malloc settings (src/cli/relaunch.ts); same process.
const plan = relaunchPlan({ argv: process.argv, execArgv: process.execArgv, execPath: process.execPath, env: process.env, platform: process.platform, canExec: typeof process.execve === "function" });
if (plan) process.execve(plan.file, plan.args, plan.env);
await import("../dist/cli/main.js");
