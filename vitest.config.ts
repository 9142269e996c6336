import { defineConfig } from "vitest/config";
import { netnsUnavailableReason } from "./test/netns/available.js";

// The fault suite (real nodes in network namespaces) needs root, `ip`, `nft` and `tc`. Where it
// cannot run it is left out of the run and says why, rather than skipping tests one by one.
const netnsReason = netnsUnavailableReason();
if (netnsReason !== null) console.log(`[vitest] project "netns" left out: ${netnsReason}`);

// Unit tests run in parallel; integration tests start real node processes and run one file at
// a time, so a busy 2-core machine does not starve the clusters under test.
export default defineConfig({
  // Lower TC39 decorators (Node 20 cannot parse them natively).
  esbuild: { target: "es2022" },
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    projects: [
      { extends: true, test: { name: "unit", include: ["test/unit/**/*.test.ts"] } },
      { extends: true, test: { name: "integration", include: ["test/integration/**/*.test.ts"], fileParallelism: false } },
      // Its own group (groupOrder 1), never alongside the other projects: faults are timed and must
      // not share the CPUs with other clusters under test.
      ...(netnsReason === null
        ? [{ extends: true as const, test: { name: "netns", include: ["test/netns/**/*.test.ts"], fileParallelism: false, sequence: { groupOrder: 1 } } }]
        : []),
    ],
  },
});
