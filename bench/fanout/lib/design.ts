/**
 * The two designs under test, and the part of the library's public API the instances use (the same in
 * both: `createCache`, `defineLoader`, `loaders`, `invalidate`, `invalidateTags`, `stats`, the `evict` and
 * `bus` events, `close`).
 *
 * "Today's design" is the tree before commit 1ba57b7 (every fill announced on the bus with every key it
 * wrote; invalidations not batched; classic pub/sub on a Cluster). It is run from its own source, taken
 * with `git archive` into a temporary directory, with this checkout's node_modules (its runtime
 * dependencies are checked to be the versions its package.json pins).
 */
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** The commit whose parent is today's design. */
export const NEW_DESIGN_COMMIT = '1ba57b7'

export interface LoaderLike {
  load(id: string): Promise<unknown>
}

export interface EvictEventLike {
  readonly source: 'local' | 'remote'
  readonly keys: readonly string[]
  readonly tags: readonly string[]
}

export interface CacheLike {
  loaders(definitions: Record<string, unknown>): Record<string, LoaderLike>
  invalidate(loader: unknown, ids: readonly string[]): Promise<void>
  invalidateTags(tags: readonly string[]): Promise<void>
  stats(): { readonly loaders: Readonly<Record<string, Readonly<Record<string, number>>>> }
  on(event: 'evict', listener: (event: EvictEventLike) => void): unknown
  on(event: 'bus', listener: (state: 'up' | 'down') => void): unknown
  off(event: 'evict', listener: (event: EvictEventLike) => void): unknown
  close(): Promise<void>
}

export interface LibraryLike {
  createCache(options: Record<string, unknown>): CacheLike
  defineLoader(definition: {
    name: string
    ttl?: number
    fetch: (ids: readonly string[]) => Promise<unknown[]>
    tags?: (id: string) => string[]
    entity?: string
  }): unknown
}

export interface OldTree {
  /** The full sha of the tree (today's design: the parent of NEW_DESIGN_COMMIT). */
  readonly sha: string
  /** Absolute path of its `src/index.ts`. */
  readonly entry: string
  /** Runtime dependencies whose installed version differs from the one the old package.json pins. */
  readonly mismatches: readonly string[]
}

/**
 * Extracts an earlier tree (`src/` and `package.json` of `rev`; default today's design,
 * `<NEW_DESIGN_COMMIT>^`) into `<tmpdir>/loadcache-fanout-<sha>` once, and links this checkout's
 * node_modules into it.
 *
 * @throws when git cannot resolve the commit (a shallow clone: fetch the history, or pass `--old`).
 */
export function prepareOldTree(repoRoot: string, rev = `${NEW_DESIGN_COMMIT}^`): OldTree {
  const sha = execFileSync('git', ['rev-parse', `${rev}^{commit}`], { cwd: repoRoot, encoding: 'utf8' })
    .trim()
    .toLowerCase()
  const dir = join(tmpdir(), `loadcache-fanout-${sha.slice(0, 12)}`)
  const entry = join(dir, 'src', 'index.ts')
  if (!existsSync(entry)) {
    const partial = `${dir}.${process.pid}`
    rmSync(partial, { recursive: true, force: true })
    mkdirSync(partial, { recursive: true })
    const tar = execFileSync('git', ['archive', '--format=tar', sha, 'src', 'package.json'], {
      cwd: repoRoot,
      maxBuffer: 256 * 1024 * 1024,
    })
    execFileSync('tar', ['-x', '-C', partial], { input: tar })
    rmSync(dir, { recursive: true, force: true })
    renameSync(partial, dir)
  }
  // Always this checkout's: a link left by a run from another checkout may point at nothing now.
  const modules = join(dir, 'node_modules')
  rmSync(modules, { force: true })
  symlinkSync(join(repoRoot, 'node_modules'), modules, 'dir')
  return { sha, entry, mismatches: dependencyMismatches(dir, repoRoot) }
}

/** `name: pinned vs installed` for each runtime dependency of the old tree installed at another version. */
function dependencyMismatches(oldDir: string, repoRoot: string): string[] {
  const pkg = JSON.parse(readFileSync(join(oldDir, 'package.json'), 'utf8')) as {
    dependencies?: Record<string, string>
  }
  const mismatches: string[] = []
  for (const [name, pinned] of Object.entries(pkg.dependencies ?? {})) {
    let installed = 'missing'
    try {
      const manifest = join(repoRoot, 'node_modules', name, 'package.json')
      installed = (JSON.parse(readFileSync(manifest, 'utf8')) as { version: string }).version
    } catch {}
    if (installed !== pinned.replace(/^[\^~]/, '')) mismatches.push(`${name}: ${pinned} vs ${installed}`)
  }
  return mismatches
}
