import { createHash } from 'node:crypto'
import { type DocumentNode, Kind, type OperationDefinitionNode, parse, print, visit } from 'graphql'
import { LRUCache } from 'lru-cache'

/** What the response tier needs to know about one operation of a document. */
export interface OperationInfo {
  /** Its name; `''` for an anonymous operation. */
  readonly name: string
  readonly type: 'query' | 'mutation' | 'subscription'
  /** It selects `__schema` or `__type`: never stored. */
  readonly introspection: boolean
  /** It uses `@defer` or `@stream`: delivered in parts, never stored. */
  readonly incremental: boolean
}

/** What the response tier knows about one query document. */
export interface DocumentInfo {
  /** SHA-256 of the document printed by graphql-js: whitespace, commas and comments do not change it. */
  readonly hash: string
  /** By operation name; the only operation of a document also under `''`. */
  readonly operations: ReadonlyMap<string, OperationInfo>
}

/** Documents remembered, by their source text. */
const MAX_DOCUMENTS = 2000
/**
 * Characters of document text remembered in all: clients choose the texts, so the memory they take is
 * bounded by size, not only by count (2,000 documents of the longest kind would otherwise be ~200 MB).
 */
const MAX_REMEMBERED_CHARACTERS = 4_000_000
/** Longer documents are not cached (nor parsed here): a cacheable query is rarely this big. */
const MAX_DOCUMENT_LENGTH = 50_000
/**
 * Tokens parsed here at most. This parse runs before yoga's own (and before validation rules such as
 * GraphQL Armor's), so it must not be the place where a hostile document costs CPU: past this, the document
 * is simply not served from the response tier, and yoga's limits answer it.
 */
const MAX_TOKENS = 5000

/**
 * Parses each distinct document text once, so that a response hit costs a map lookup, not a parse: the
 * whole point of the tier is to skip parse, validate and execute. A document that does not parse gets
 * `undefined` (yoga reports the syntax error as usual).
 */
export class DocumentCache {
  readonly #documents = new LRUCache<string, DocumentInfo | false>({
    max: MAX_DOCUMENTS,
    maxSize: MAX_REMEMBERED_CHARACTERS,
    sizeCalculation: (_info, source) => Math.max(1, source.length),
  })

  /** How much is remembered (for tests and stats). */
  get remembered(): { documents: number; characters: number } {
    return { documents: this.#documents.size, characters: this.#documents.calculatedSize }
  }

  get(source: string): DocumentInfo | undefined {
    if (source.length > MAX_DOCUMENT_LENGTH) return undefined
    let info = this.#documents.get(source)
    if (info === undefined) {
      info = describe(source)
      this.#documents.set(source, info)
    }
    return info === false ? undefined : info
  }
}

function describe(source: string): DocumentInfo | false {
  let document: DocumentNode
  try {
    document = parse(source, { noLocation: true, maxTokens: MAX_TOKENS })
  } catch {
    return false
  }
  const operations = new Map<string, OperationInfo>()
  const definitions = document.definitions.filter(
    (definition): definition is OperationDefinitionNode => definition.kind === Kind.OPERATION_DEFINITION,
  )
  for (const definition of definitions) {
    const info = describeOperation(document, definition)
    operations.set(definition.name?.value ?? '', info)
    if (definitions.length === 1) operations.set('', info)
  }
  return { hash: createHash('sha256').update(print(document)).digest('base64url'), operations }
}

function describeOperation(document: DocumentNode, operation: OperationDefinitionNode): OperationInfo {
  let introspection = false
  let incremental = false
  const inspect = (node: DocumentNode | OperationDefinitionNode) =>
    visit(node, {
      Field(field) {
        if (field.name.value === '__schema' || field.name.value === '__type') introspection = true
      },
      Directive(directive) {
        if (directive.name.value === 'defer' || directive.name.value === 'stream') incremental = true
      },
    })
  inspect(operation)
  // Fragments may be spread anywhere: count theirs too (a document is small; over-counting only bypasses).
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION)
      inspect({ kind: Kind.DOCUMENT, definitions: [definition] })
  }
  return { name: operation.name?.value ?? '', type: operation.operation, introspection, incremental }
}
