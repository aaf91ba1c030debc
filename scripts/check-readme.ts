/**
 * Type-checks every ```ts block of README.md against the built package, so the code people copy compiles.
 *
 *   npm run build && npm run check:readme
 *
 * Each block becomes its own module under .tmp/readme/ (inside the repo, so `import … from 'loadcache'`
 * resolves to dist/ through the package's own exports map, as it does for users, and other imports to the
 * repo's node_modules). docs/readme-prelude.d.ts declares what the snippets assume without showing it (the
 * app's `db`, `viewerIdFrom`, the `cache` and loaders of the first example…). A block fenced ```ts nocheck
 * is skipped: use it for fragments that cannot compile on their own, sparingly.
 *
 * Errors are reported at their README.md line. Exit code 1 when a block does not compile.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const readmePath = join(repo, 'README.md')
const prelude = join(repo, 'docs/readme-prelude.d.ts')
const outDir = join(repo, '.tmp/readme')

interface Block {
  /** README line of the block's first code line (1-based). */
  readonly line: number
  readonly code: string
}

/** The ```ts blocks of a Markdown text, except those whose fence says `nocheck`. */
export function tsBlocks(markdown: string): { checked: Block[]; skipped: number } {
  const checked: Block[] = []
  let skipped = 0
  const lines = markdown.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const fence = /^(\s*)```(ts|typescript)\b(.*)$/.exec(lines[i]!)
    if (fence === null) continue
    const start = i + 1
    let end = start
    while (end < lines.length && !/^\s*```\s*$/.test(lines[end]!)) end++
    if (/\bnocheck\b/.test(fence[3]!)) skipped++
    else checked.push({ line: start + 1, code: lines.slice(start, end).join('\n') })
    i = end
  }
  return { checked, skipped }
}

function main(): number {
  try {
    readFileSync(join(repo, 'dist/index.d.ts'))
  } catch {
    process.stderr.write('check-readme: dist/ is missing; run `npm run build` first\n')
    return 1
  }
  const { checked, skipped } = tsBlocks(readFileSync(readmePath, 'utf8'))
  rmSync(outDir, { recursive: true, force: true })
  mkdirSync(outDir, { recursive: true })
  const files = checked.map((block, index) => {
    const file = join(outDir, `block-${String(index + 1).padStart(2, '0')}.ts`)
    // `export {}` makes every block a module of its own, even one without imports.
    writeFileSync(file, `${block.code}\nexport {}\n`)
    return { file, block }
  })
  const program = ts.createProgram({
    rootNames: [prelude, ...files.map(({ file }) => file)],
    options: {
      strict: true,
      noEmit: true,
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      lib: ['lib.es2023.d.ts'],
      types: ['node'],
      skipLibCheck: true,
      // Snippets show how to call things; values they compute and never use are fine.
      noUnusedLocals: false,
    },
  })
  const diagnostics = ts.getPreEmitDiagnostics(program)
  for (const diagnostic of diagnostics) {
    const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n')
    const source = diagnostic.file
    if (source === undefined || diagnostic.start === undefined) {
      process.stderr.write(`error TS${diagnostic.code}: ${message}\n`)
      continue
    }
    const { line, character } = source.getLineAndCharacterOfPosition(diagnostic.start)
    const owner = files.find(({ file }) => resolve(file) === resolve(source.fileName))
    const where = owner
      ? `README.md:${owner.block.line + line}:${character + 1}`
      : `${relative(repo, source.fileName)}:${line + 1}:${character + 1}`
    process.stderr.write(`${where} - error TS${diagnostic.code}: ${message}\n`)
  }
  const summary = `check-readme: ${checked.length} ts blocks checked, ${skipped} marked nocheck`
  if (diagnostics.length > 0) {
    process.stderr.write(`${summary}: ${diagnostics.length} errors\n`)
    return 1
  }
  process.stdout.write(`${summary}: all compile\n`)
  return 0
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = main()
}
