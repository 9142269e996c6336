import { execFileSync } from "node:child_process";

/**
 * Why the network-namespace fault suite cannot run on this machine, or null when it can:
 * it needs Linux, root, and the `ip`, `nft` and `tc` tools (iproute2, nftables). Read by
 * vitest.config.ts, which leaves the project out (and prints this reason) when it cannot run.
 */
export function netnsUnavailableReason(): string | null {
  if (process.platform !== "linux") return "not Linux";
  if (typeof process.getuid !== "function" || process.getuid() !== 0) return "not running as root";
  for (const tool of ["ip", "nft", "tc"]) {
    try {
      execFileSync(tool, ["-V"], { stdio: "ignore" });
    } catch {
      return `\`${tool}\` is not installed`;
    }
  }
  return null;
}

