import { defineConfig } from "vitest/config";

export default defineConfig({
  // Lower TC39 decorators (Node 20 cannot parse them natively).
  esbuild: { target: "es2022" },
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Integration tests start real processes: two workers match the machine's two cores.
    maxWorkers: 2,
    reporters: ["default"],
  },
});
