import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    setupFiles: ["test/setup.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: "forks",
    // Integration and e2e suites bind loopback ports and run real servers; two cores, so keep it modest.
    maxWorkers: 2,
    reporters: ["default", "./test/summary-reporter.ts"],
  },
});
