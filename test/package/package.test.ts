import { execFile } from 'node:child_process'
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { entries } from '../../tsup.config.js'
import { freePort } from '../helpers/redis-server.js'

/*
 * The package as users get it: `npm pack` (which runs the build through `prepack`), installed from the
 * tarball into a fresh project, then imported, required and type-checked there. The npm cache already holds
 * every dependency (the repo installed them), so installs run with --prefer-offline.
 */

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
const fixtures = join(repo, 'test/package/fixtures')
const pkg = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8'))
const requireFromRepo = createRequire(join(repo, 'package.json'))
const tsc = requireFromRepo.resolve('typescript/bin/tsc')
const execFileAsync = promisify(execFile)

/** The version of a package in the repo's node_modules: the one the npm cache holds. */
function installed(name: string): string {
  const json = JSON.parse(readFileSync(join(repo, 'node_modules', name, 'package.json'), 'utf8'))
  return `${name}@${json.version}`
}

/** npm's lifecycle variables of the `npm test` that started vitest would confuse the npm calls below. */
const env = Object.fromEntries(
  Object.entries(process.env).filter(
    ([name]) => !name.startsWith('npm_package_') && !name.startsWith('npm_lifecycle_') && name !== 'INIT_CWD',
  ),
)

/** Runs a command that is expected to fail; returns its exit code and stderr. */
async function runFailing(command: string, args: readonly string[], cwd: string) {
  try {
    await execFileAsync(command, args, { cwd, env })
  } catch (error) {
    const { code, stderr } = error as { code?: number; stderr?: string }
    return { code, stderr: stderr ?? '' }
  }
  throw new Error(`\`${command} ${args.join(' ')}\` succeeded; it should have failed`)
}

async function run(command: string, args: readonly string[], cwd: string): Promise<string> {
  try {
    const { stdout } = await execFileAsync(command, args, { cwd, env, maxBuffer: 16 * 1024 * 1024 })
    return stdout
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string }
    throw new Error(`\`${command} ${args.join(' ')}\` failed in ${cwd}:\n${stdout ?? ''}\n${stderr ?? ''}`)
  }
}

const npmInstall = (cwd: string, specs: readonly string[]) =>
  run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', ...specs], cwd)

let work: string
let tarball: string
let app: string

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'loadcache-package-'))
  await run('npm', ['pack', '--pack-destination', work], repo)
  const packed = readdirSync(work).filter((name) => name.endsWith('.tgz'))
  expect(packed).toEqual([`loadcache-${pkg.version}.tgz`])
  tarball = join(work, packed[0]!)
  app = join(work, 'app')
  mkdirSync(app)
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true }))
  for (const file of ['checks.mjs', 'esm-app.mjs', 'cjs-app.cjs'])
    cpSync(join(fixtures, file), join(app, file))
  // A tRPC-only app first: it must not need graphql.
  await npmInstall(app, [tarball, installed('@trpc/server')])
}, 180_000)

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true })
})

describe('the packed tarball', () => {
  it('holds the build for every subpath, the command, the licenses and no sources or tests', async () => {
    const files = (await run('tar', ['-tzf', tarball], work)).split('\n').filter(Boolean)
    for (const entry of Object.keys(entries)) {
      for (const extension of ['.js', '.cjs', '.d.ts', '.d.cts']) {
        expect(files).toContain(`package/dist/${entry}${extension}`)
      }
    }
    expect(files).toContain(`package/${pkg.bin.loadcache.replace('./', '')}`)
    expect(files).toEqual(expect.arrayContaining(['package/LICENSE', 'package/THIRD_PARTY_NOTICES.md']))
    expect(files.filter((file) => /^package\/(src|test|bench|example-api)\//.test(file))).toEqual([])
  })

  it('declares one exports entry per build entry, each with types for import and require', () => {
    const subpaths = Object.keys(pkg.exports).filter((subpath) => subpath !== './package.json')
    const built = Object.keys(entries).map((entry) => (entry === 'index' ? '.' : `./${dirname(entry)}`))
    expect(subpaths.sort()).toEqual(built.sort())
    for (const subpath of subpaths) {
      const { import: esm, require: cjs } = pkg.exports[subpath]
      expect(Object.keys(esm)).toEqual(['types', 'default'])
      expect(Object.keys(cjs)).toEqual(['types', 'default'])
    }
  })

  it('carries devalue inside the CommonJS build (devalue is ESM only) and imports it from the ESM build', () => {
    const dist = join(app, 'node_modules/loadcache/dist')
    const cjs = readdirSync(dist).filter((name) => name.endsWith('.cjs'))
    const js = readdirSync(dist).filter((name) => name.endsWith('.js'))
    const text = (names: string[]) => names.map((name) => readFileSync(join(dist, name), 'utf8')).join('\n')
    expect(text(cjs)).not.toMatch(/require\(["']devalue["']\)/)
    expect(text(js)).toMatch(/from ["']devalue["']/)
    expect(pkg.dependencies.devalue).toMatch(/^\d+\.\d+\.\d+$/)
  })

  it('passes publint --strict and are-the-types-wrong', async () => {
    await run(join(repo, 'node_modules/.bin/publint'), ['run', tarball, '--strict'], repo)
    // The default profile checks node10 resolution too (package.json typesVersions), beyond --profile node16.
    await run(join(repo, 'node_modules/.bin/attw'), [tarball], repo)
  }, 60_000)
})

describe('a tRPC-only app', () => {
  it('installs without graphql or @graphql-tools/utils', () => {
    expect(existsSync(join(app, 'node_modules/loadcache'))).toBe(true)
    expect(existsSync(join(app, 'node_modules/graphql'))).toBe(false)
    expect(existsSync(join(app, 'node_modules/@graphql-tools/utils'))).toBe(false)
  })

  it('imports and requires loadcache and loadcache/trpc, and they work', async () => {
    expect(await run(process.execPath, ['esm-app.mjs', 'trpc'], app)).toContain('esm trpc: ok')
    expect(await run(process.execPath, ['cjs-app.cjs', 'trpc'], app)).toContain('cjs trpc: ok')
  })

  it('type-checks with skipLibCheck: false, without ioredis, graphql or @types/node installed', async () => {
    expect(existsSync(join(app, 'node_modules/ioredis'))).toBe(false)
    expect(existsSync(join(app, 'node_modules/@types/node'))).toBe(false)
    const dir = join(app, 'ts-trpc-only')
    mkdirSync(dir, { recursive: true })
    cpSync(join(fixtures, 'ts/trpc-consumer.ts'), join(dir, 'consumer.ts'))
    const compilerOptions = {
      strict: true,
      noEmit: true,
      target: 'ES2022',
      // What tRPC's own types need: fetch's AbortSignal and ReadableStream, and `using` (Disposable).
      lib: ['ES2022', 'DOM', 'ESNext.Disposable'],
      types: [],
      skipLibCheck: false,
      module: 'nodenext',
      moduleResolution: 'nodenext',
    }
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions, include: ['consumer.ts'] }))
    await run(process.execPath, [tsc, '-p', dir], dir)
  }, 60_000)

  it('has the loadcache command, which asks for ioredis when it is missing', async () => {
    const bin = join(app, 'node_modules/.bin/loadcache')
    expect(await run(bin, ['--help'], app)).toContain('Usage: loadcache inspect --redis <url>')
    expect(await runFailing(bin, ['inspect', '--redis', 'redis://127.0.0.1:6379', '--counts'], app)).toEqual({
      code: 1,
      stderr:
        '[loadcache] inspect needs ioredis (an optional peer dependency of loadcache): npm install ioredis\n',
    })
  })
})

describe('an app with every integration', () => {
  beforeAll(async () => {
    await npmInstall(app, [
      installed('graphql'),
      installed('graphql-yoga'),
      installed('@graphql-tools/utils'),
      installed('ioredis'),
      installed('@types/node'),
    ])
  }, 180_000)

  it('imports and requires every subpath, and they work (one class per error across subpaths)', async () => {
    expect(await run(process.execPath, ['esm-app.mjs', 'all'], app)).toContain('esm all: ok')
    expect(await run(process.execPath, ['cjs-app.cjs', 'all'], app)).toContain('cjs all: ok')
  }, 60_000)

  it('runs loadcache inspect with ioredis (here against a port nobody listens on)', async () => {
    const port = await freePort()
    const failed = await runFailing(
      join(app, 'node_modules/.bin/loadcache'),
      ['inspect', '--redis', `redis://127.0.0.1:${port}`, '--counts'],
      app,
    )
    expect(failed.code).toBe(1)
    expect(failed.stderr).toContain(`cannot reach Redis at redis://127.0.0.1:${port}: connect ECONNREFUSED`)
  })

  it('type-checks as a CommonJS project (module: commonjs) and a Node16 project (module: nodenext)', async () => {
    const consumer = join(fixtures, 'ts/consumer.ts')
    const project = (name: string, compilerOptions: object, files: Record<string, string>) => {
      const dir = join(app, name)
      mkdirSync(dir, { recursive: true })
      for (const [file, from] of Object.entries(files)) cpSync(from, join(dir, file))
      const strict = { strict: true, noEmit: true, target: 'ES2022', types: ['node'], skipLibCheck: true }
      writeFileSync(
        join(dir, 'tsconfig.json'),
        JSON.stringify({ compilerOptions: { ...strict, ...compilerOptions }, include: Object.keys(files) }),
      )
      return run(process.execPath, [tsc, '-p', dir], dir)
    }
    await Promise.all([
      project('ts-commonjs', { module: 'commonjs', esModuleInterop: true }, { 'consumer.ts': consumer }),
      project(
        'ts-nodenext',
        { module: 'nodenext', moduleResolution: 'nodenext' },
        { 'consumer.mts': consumer, 'consumer.cts': consumer },
      ),
    ])
  }, 120_000)
})
