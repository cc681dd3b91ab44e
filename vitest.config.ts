import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Integration and fault tests start real servers and processes; two cores, so two workers.
    pool: 'forks',
    maxWorkers: 2,
    reporters: ['default'],
  },
});
