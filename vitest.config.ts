import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Multi-process tests spawn workers of their own; two files at a time is what 2 cores sustain.
    maxWorkers: 2,
  },
})
