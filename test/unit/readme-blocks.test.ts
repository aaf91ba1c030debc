import { describe, expect, it } from 'vitest'
import { tsBlocks } from '../../scripts/check-readme.js'

describe('the README check', () => {
  it('takes every ```ts block with the README line of its first code line, and skips ```ts nocheck', () => {
    const markdown = [
      '# Title', // 1
      '```ts', // 2
      "import { createCache } from 'loadcache'", // 3
      'createCache()', // 4
      '```', // 5
      '```ts nocheck', // 6
      'not checked', // 7
      '```', // 8
      '```sh', // 9
      'npm test', // 10
      '```', // 11
      '```typescript', // 12
      'const a = 1', // 13
      '```', // 14
    ].join('\n')
    expect(tsBlocks(markdown)).toEqual({
      checked: [
        { line: 3, code: "import { createCache } from 'loadcache'\ncreateCache()" },
        { line: 13, code: 'const a = 1' },
      ],
      skipped: 1,
    })
  })
})
