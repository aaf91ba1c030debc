import { defineConfig, type Options } from 'tsup'

/**
 * The public entry points: `dist/<key>.js` (ESM), `.cjs`, `.d.ts` and `.d.cts` for each. A new subpath
 * (`./prometheus`, `./otel`…) is one line here plus its `exports` entry in package.json; the package test
 * (test/package) checks every `exports` entry in both module systems.
 */
export const entries: Record<string, string> = {
  index: 'src/index.ts',
  'graphql/index': 'src/graphql/index.ts',
  'yoga/index': 'src/yoga/index.ts',
  'trpc/index': 'src/trpc/index.ts',
}

const shared: Options = {
  entry: entries,
  outDir: 'dist',
  tsconfig: 'tsconfig.build.json',
  target: 'node20',
  platform: 'node',
  // Keep `node:crypto` as written (tsup strips the prefix by default, for runtimes older than Node 14.18).
  removeNodeProtocol: false,
  dts: true,
  sourcemap: true,
  // Code shared by several subpaths goes into one chunk per format, so `loadcache` and `loadcache/yoga` use
  // one copy of each class and WeakMap: `instanceof LoadCacheError` and `engineOf(cache)` hold across them.
  splitting: true,
  // The build script empties dist/ once; two parallel configs cleaning it would delete each other's files.
  clean: false,
}

export default defineConfig([
  // ESM imports devalue from the user's node_modules (a dependency pinned to the exact version whose format
  // the `d6` serializer id names).
  { ...shared, format: 'esm' },
  // devalue is pure ESM: `require()` of it fails on Node < 20.19 (ERR_REQUIRE_ESM). The CJS build carries its
  // own copy, of the same pinned version.
  { ...shared, format: 'cjs', noExternal: ['devalue'] },
])
