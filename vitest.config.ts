import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'stacks/test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 300_000,
    pool: 'forks',
    // Vitest's default is one worker on a 2-core machine. Two files side by side keep both cores
    // busy: an LVM file mostly waits on its single-vCPU lab VM while the other file runs.
    maxWorkers: 2,
    globalSetup: ['test/global-setup.ts'],
  },
});
