import path from 'node:path';
import { cloudflareTest, readD1Migrations } from '@cloudflare/vitest-pool-workers';
import { defineConfig } from 'vitest/config';

const root = path.resolve(import.meta.dirname, '../..');

// The Worker runs inside workerd with a local D1 built from migrations/. A loopback MQTT broker
// (started in broker-setup.ts) lets tests see what the Worker publishes.
export default defineConfig(async () => {
  const migrations = await readD1Migrations(path.join(root, 'migrations'));
  return {
    plugins: [
      cloudflareTest({
        wrangler: { configPath: path.join(root, 'wrangler.toml') },
        // FUZZ_RUNS: cases per operation of test/edge/fuzz.test.ts (50 unless a longer run asks for more).
        miniflare: { bindings: { TEST_MIGRATIONS: migrations, FUZZ_RUNS: process.env.FUZZ_RUNS ?? '50' } },
      }),
    ],
    test: {
      name: 'edge',
      root,
      include: ['test/edge/**/*.test.ts'],
      setupFiles: ['test/edge/apply-migrations.ts'],
      globalSetup: ['test/edge/broker-setup.ts', 'test/edge/stripe-fake/global-setup.ts', 'test/edge/notify-fakes/global-setup.ts'],
      // Multi-month scenarios take a few seconds; shared CI machines can take several times that.
      testTimeout: 30_000,
    },
  };
});
