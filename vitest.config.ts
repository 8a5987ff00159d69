import { defineConfig } from "vitest/config";

/**
 * Three projects: `unit` (pure logic, fast, no processes), `integration` (one real part at a
 * time), `e2e` (the whole mesh as real processes). `npm test` runs them one after the other, so
 * the heavy e2e files never share the two cores with integration files.
 */
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: ["shared/*/src/**/*.test.ts", "services/*/src/**/*.test.ts", "scripts/**/*.test.ts", "bench/src/**/*.test.ts"],
        },
      },
      {
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.ts", "test/emulators/**/*.test.ts"],
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
      {
        test: {
          name: "e2e",
          include: ["test/e2e/**/*.e2e.test.ts"],
          testTimeout: 120_000,
          hookTimeout: 180_000,
          // The mesh is heavy for a 2-core machine: one e2e file at a time.
          fileParallelism: false,
        },
      },
    ],
  },
});
