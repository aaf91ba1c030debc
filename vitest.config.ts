import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

const require = createRequire(import.meta.url)

export default defineConfig({
  resolve: {
    // graphql 16 ships CJS (main) and ESM (module) builds without an exports map. Node loads the CJS one
    // for dependencies (@graphql-tools, yoga); Vite would pick the ESM one for our files, and two copies of
    // graphql refuse each other's types ("from another module or realm"). Use the one Node uses.
    alias: [
      { find: /^graphql$/, replacement: require.resolve('graphql') },
      // The example API imports the package by its name, as an app would; here that is the source (the same
      // mapping as tsconfig.json's `paths`, which tsx follows when the example runs).
      { find: /^loadcache$/, replacement: fileURLToPath(new URL('./src/index.ts', import.meta.url)) },
      {
        find: /^loadcache\/(.+)$/,
        replacement: fileURLToPath(new URL('./src/$1/index.ts', import.meta.url)),
      },
    ],
  },
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Multi-process tests spawn workers of their own; two files at a time is what 2 cores sustain.
    maxWorkers: 2,
  },
})
