import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'control/**/*.test.ts', 'sim/**/*.test.ts', 'robots/**/*.test.ts', 'policies/**/*.test.ts', 'hil/**/*.test.ts', 'cli/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
