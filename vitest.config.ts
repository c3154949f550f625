import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'control/**/*.test.ts', 'sim/**/*.test.ts', 'tasks/**/*.test.ts', 'robots/**/*.test.ts', 'policies/**/*.test.ts', 'hil/**/*.test.ts', 'cli/**/*.test.ts', 'experiment/**/*.test.ts', 'analysis/**/*.test.ts', 'dashboard/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // .ci/run sets ROBORL_TEST_RESULTS to get a machine-readable summary next to the usual output.
    reporters: process.env['ROBORL_TEST_RESULTS'] ? ['default', 'json'] : ['default'],
    outputFile: process.env['ROBORL_TEST_RESULTS'] ? { json: process.env['ROBORL_TEST_RESULTS'] } : undefined,
  },
});
