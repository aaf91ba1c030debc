import { defineConfig } from 'tsup'

/**
 * The public entry points: `dist/<key>.js` (ESM), `.cjs`, `.d.ts` and `.d.cts` for each. A new subpath
 * (`./prometheus`, `./otel`…) is one line here plus its `exports` and `typesVersions` entries in
 * package.json; the package test (test/package) checks that the three agree and tries every subpath in
 * both module systems.
 */
export const entries: Record<string, string> = {
  index: 'src/index.ts',
  'graphql/index': 'src/graphql/index.ts',
  'yoga/index': 'src/yoga/index.ts',
  'trpc/index': 'src/trpc/index.ts',
  'prometheus/index': 'src/prometheus/index.ts',
  'otel/index': 'src/otel/index.ts',
}

const common = {
  outDir: 'dist',
  tsconfig: 'tsconfig.build.json',
  target: 'node20',
  platform: 'node',
  sourcemap: true,
  // Keep `node:crypto` as written (tsup strips the prefix by default, for runtimes older than Node 14.18).
  removeNodeProtocol: false,
  // The build script empties dist/ once; two configs cleaning it in parallel would delete each other's files.
  clean: false,
} as const

export default defineConfig([
  {
    ...common,
    entry: entries,
    // One config for both formats: the declarations are rolled up in one pass (half the CPU of two).
    format: ['esm', 'cjs'],
    dts: true,
    // Code shared by several subpaths goes into one chunk per format, so `loadcache` and `loadcache/yoga`
    // use one copy of each class and WeakMap: `instanceof LoadCacheError` and `engineOf(cache)` hold
    // across them.
    splitting: true,
    // devalue is pure ESM: `require()` of it fails on Node < 20.19 (ERR_REQUIRE_ESM), so the CJS build
    // carries its own copy, of the same pinned version. The ESM build imports it from the user's
    // node_modules (a dependency pinned to the exact version whose format the `d6` serializer id names).
    noExternal: ['devalue'],
    esbuildOptions(options, context) {
      if (context.format === 'esm') options.external = [...(options.external ?? []), 'devalue']
    },
  },
  // The `loadcache` command (package.json `bin`): ESM only, no types.
  { ...common, entry: { 'cli/main': 'src/cli/main.ts' }, format: ['esm'] },
])
