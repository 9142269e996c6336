/**
 * Memory settings a node can only get at process start: glibc reads its malloc tunables from the
 * environment when the process starts, so a node started as `p2p coordinator|worker` on Linux
 * replaces itself once (execve: same process id, no second process) with them set. Node 20
 * has no `process.execve` (added in 22.15 / 23.11): there the node runs as started, and the
 * operator sets the same variables (README).
 */

/** What the node sets unless the operator already did (design notes: "Memory of a node"). */
export const MALLOC_ENV: Readonly<Record<string, string>> = {
  // At most 2 malloc arenas: V8's compiler and GC threads otherwise get one each, and glibc
  // keeps what they freed after a burst of load.
  MALLOC_ARENA_MAX: "2",
  // Give free memory at the top of the heap back above 128 KiB; setting it also stops glibc
  // raising its thresholds (up to 32 / 64 MiB) after large buffers are freed.
  MALLOC_TRIM_THRESHOLD_: "131072",
};

/** Set to 0 by an operator to start the node as is; set to 1 by the relaunch itself. */
export const RELAUNCH_ENV = "P2P_MALLOC_RELAUNCH";

export interface RelaunchPlan {
  file: string;
  args: string[];
  env: Record<string, string>;
}

export interface RelaunchInput {
  argv: readonly string[];
  execArgv: readonly string[];
  execPath: string;
  env: Readonly<Record<string, string | undefined>>;
  platform: string;
  /** Whether this Node has process.execve. */
  canExec: boolean;
}

/** The execve to run before anything else, or null to start as is. */
export function relaunchPlan(input: RelaunchInput): RelaunchPlan | null {
  const command = input.argv[2];
  if (command !== "coordinator" && command !== "worker") return null;
  if (input.platform !== "linux" || !input.canExec || input.env[RELAUNCH_ENV] !== undefined) return null;
  const missing = Object.entries(MALLOC_ENV).filter(([name]) => input.env[name] === undefined);
  if (missing.length === 0) return null;
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(input.env)) if (value !== undefined) env[name] = value;
  for (const [name, value] of missing) env[name] = value;
  env[RELAUNCH_ENV] = "1";
  return { file: input.execPath, args: [input.execPath, ...input.execArgv, ...input.argv.slice(1)], env };
}
