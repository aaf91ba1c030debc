import { describe, expect, it } from 'vitest'
import { DocumentCache } from '../../src/response/document-info.js'

describe('the response tier’s document cache', () => {
  it('describes a query once by its text', () => {
    const cache = new DocumentCache()
    const info = cache.get('query Feed { posts { id } }')
    expect(info?.operations.get('Feed')).toMatchObject({ name: 'Feed', type: 'query' })
    expect(cache.get('query Feed { posts { id } }')).toBe(info)
  })

  it('does not parse a document of more than 5,000 tokens (yoga’s own limits answer it)', () => {
    const cache = new DocumentCache()
    const fields = Array.from({ length: 5000 }, (_, i) => `f${i}`).join(' ')
    expect(cache.get(`{ ${fields} }`)).toBeUndefined()
    expect(cache.get(`{ ${fields.slice(0, 2000)} }`)).toBeDefined()
  })

  it('does not remember a document longer than 50,000 characters', () => {
    const cache = new DocumentCache()
    expect(cache.get(`{ a${' '.repeat(50_000)} }`)).toBeUndefined()
    expect(cache.remembered.documents).toBe(0)
  })

  it('bounds what it remembers by characters, whatever documents clients send', () => {
    const cache = new DocumentCache()
    for (let i = 0; i < 2000; i++) cache.get(`{ f${i} ${' '.repeat(40_000)} }`)
    expect(cache.remembered.characters).toBeLessThanOrEqual(4_000_000)
    expect(cache.remembered.documents).toBeLessThan(2000)
  })
})
