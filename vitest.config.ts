import { defineConfig } from "vitest/config";

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
    ],
  },
});
