import { defineConfig } from 'vitest/config';

const shared = { testTimeout: 120_000, hookTimeout: 300_000 };
// Integration tests drive the real CLI, often into the lab VM under TCG: beside another file on a
// 2-core machine, a test that takes 100 s alone has taken over 120 s.
const integration = { ...shared, testTimeout: 300_000 };

export default defineConfig({
  test: {
    pool: 'forks',
    // Vitest's default is one worker on a 2-core machine. Two files side by side keep both cores
    // busy: an LVM file mostly waits on its single-vCPU lab VM while the other file runs.
    maxWorkers: 2,
    projects: [
      // Unit tests import the source directly: no build, so a planner change is checked in seconds.
      { test: { ...shared, name: 'unit', include: ['test/unit/**/*.test.ts'] } },
      {
        test: {
          ...integration,
          name: 'integration',
          include: ['test/**/*.test.ts', 'stacks/test/**/*.test.ts'],
          exclude: ['test/unit/**'],
          // Integration tests run the real CLI: build it once per run.
          globalSetup: ['test/global-setup.ts'],
        },
      },
    ],
  },
});
