import { defineConfig } from 'vitest/config';

// Five projects: pure rules (node), the Worker inside workerd (workers pool), the door agent (node),
// end-to-end runs of real processes (wrangler dev, a broker, the agent) and web pages in Chromium.
export default defineConfig({
  test: {
    projects: [
      { test: { name: 'core', include: ['test/core/**/*.test.ts'], environment: 'node' } },
      'test/edge/vitest.config.ts',
      { test: { name: 'device', include: ['test/device/**/*.test.ts'], environment: 'node', testTimeout: 60_000 } },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          environment: 'node',
          testTimeout: 120_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          name: 'web',
          include: ['test/web/**/*.test.ts'],
          environment: 'node',
          testTimeout: 120_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
