import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

/**
 * The layers of `src/`, bottom first. A module may import its own folder and any folder of a lower layer,
 * never a higher one: data flows resolver → request → cache → engine → tiers → core, and integrations
 * depend on the core, never the other way round.
 */
const LAYERS: readonly (readonly string[])[] = [
  ['core'],
  ['memory', 'redis'],
  ['invalidation', 'loader'],
  ['engine'],
  ['cache'],
  ['request'],
  ['graphql', 'trpc', 'prometheus', 'otel'],
  ['yoga', 'response'],
  ['.', 'cli'],
]

const srcDir = resolve(dirname(fileURLToPath(import.meta.url)), '../../src')

function layerOf(folder: string): number {
  const index = LAYERS.findIndex((layer) => layer.includes(folder))
  if (index < 0) throw new Error(`src/${folder} is in no layer: add it to LAYERS in ${import.meta.url}`)
  return index
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? sourceFiles(join(dir, entry.name))
      : entry.name.endsWith('.ts')
        ? [join(dir, entry.name)]
        : [],
  )
}

const folderOf = (file: string) => relative(srcDir, dirname(file)).split('/')[0] || '.'

describe('src/ layering', () => {
  it('has no import that points to a higher layer', () => {
    const upward: string[] = []
    for (const file of sourceFiles(srcDir)) {
      const from = folderOf(file)
      const text = readFileSync(file, 'utf8')
      for (const match of text.matchAll(/from\s+'(\.{1,2}\/[^']+)'/g)) {
        const target = resolve(dirname(file), match[1]!)
        const to = folderOf(target)
        if (to !== from && layerOf(to) > layerOf(from)) {
          upward.push(`${relative(srcDir, file)} imports ${relative(srcDir, target)}`)
        }
      }
    }
    expect(upward).toEqual([])
  })
})

describe('the error contract', () => {
  it('throws no plain Error, TypeError or RangeError from src/: every error loadcache raises has a code', () => {
    const plain: string[] = []
    for (const file of sourceFiles(srcDir)) {
      const lines = readFileSync(file, 'utf8').split('\n')
      lines.forEach((line, index) => {
        if (/throw new (Type|Range)?Error\(/.test(line)) plain.push(`${relative(srcDir, file)}:${index + 1}`)
      })
    }
    expect(plain).toEqual([])
  })
})
