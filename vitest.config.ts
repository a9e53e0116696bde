import { defineConfig } from "vitest/config";

// Tiers named by what they touch: unit (no I/O), int (real PostgreSQL/NATS/sockets), e2e (real Chromium),
// cluster (every role as its own process); volume (the analytics queries on 10 million rows, alone).
const VOLUME_TEST = "apps/server/src/modules/interactions/analytics-volume.int.test.ts";
export default defineConfig({
  test: {
    allowOnly: false,
    projects: [
      {
        test: {
          name: "unit",
          include: ["{apps,packages,bench}/**/*.test.ts"],
          exclude: ["**/*.int.test.ts", "**/node_modules/**"],
        },
      },
      {
        test: {
          name: "int",
          include: ["{apps,packages,bench}/**/*.int.test.ts"],
          exclude: ["**/node_modules/**", VOLUME_TEST],
          globalSetup: ["apps/server/test/global-setup.ts"],
          testTimeout: 60_000,
          hookTimeout: 120_000,
          // Two files at a time on two cores, where vitest's default is one (cores - 1): these files mostly
          // wait on PostgreSQL, NATS, child processes and timers. The tier took 388 and 451 s so, against 544
          // and 574 s one file at a time (2026-12-06, every test passing).
          maxWorkers: 2,
        },
      },
      {
        // The analytics queries' 200 ms budget on 10 million rows, timed with nothing else running: beside
        // the int tier's other files on two cores it measured them as much as the queries.
        test: {
          name: "volume",
          include: [VOLUME_TEST],
          globalSetup: ["apps/server/test/global-setup.ts"],
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
      {
        test: {
          name: "e2e",
          include: ["e2e/**/*.e2e.test.ts"],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
      {
        // Real processes of every role on PostgreSQL and NATS (cluster/, ADR 0023); one file at a time.
        test: {
          name: "cluster",
          include: ["cluster/**/*.cluster.test.ts"],
          globalSetup: ["apps/server/test/global-setup.ts"],
          testTimeout: 240_000,
          hookTimeout: 180_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
