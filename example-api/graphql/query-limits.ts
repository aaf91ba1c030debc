import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases'
import { maxDepthRule } from '@escape.tech/graphql-armor-max-depth'
import { maxDirectivesRule } from '@escape.tech/graphql-armor-max-directives'
import { MaxTokensParserWLexer } from '@escape.tech/graphql-armor-max-tokens'
import {
  type DocumentNode,
  GraphQLError,
  type GraphQLSchema,
  Kind,
  type ValidationContext,
  validate,
} from 'graphql'
import type { GraphQLParams, Plugin } from 'graphql-yoga'
import { LRUCache } from 'lru-cache'
import type { RequestLimits } from '../http/limits.js'
import { refusedRequest } from './client-errors.js'
import { maxListLiteralRule, tooLongVariableList } from './list-lengths.js'
import { createCostEstimate } from './query-cost.js'

const OVER_LIMIT = { code: 'GRAPHQL_VALIDATION_FAILED', status: 400 } as const

/**
 * Documents remembered, at most, and their total length in characters. An application sends a few
 * hundred distinct operations of a few hundred characters; the length bound keeps a client sending
 * distinct 10,000-character documents from holding more than a few megabytes here.
 */
const MAX_DOCUMENTS = 500
const MAX_DOCUMENTS_LENGTH = 1_000_000

/** A document that passed every check that does not depend on the variables. */
interface CheckedDocument {
  document: DocumentNode
  /** Whether an operation declares variables: then its cost depends on them, and is not remembered. */
  usesVariables: boolean
  /** The names of its operations: a cost is remembered only under a name the document has. */
  operationNames: ReadonlySet<string>
  /** The cost of each operation (`''`: the only one) of a document without variables. */
  costs: Map<string, number>
}

/**
 * Refuses GraphQL operations that exceed `limits` (see {@link RequestLimits}): lists in the variables,
 * the query's length, tokens, depth, aliases, directives, list literals and the estimated cost, in that
 * order, cheapest first. A refusal is a 400 whatever the client's `Accept` header, with `extensions.code` `BAD_USER_INPUT` (a
 * list) or `GRAPHQL_VALIDATION_FAILED` (the rest) and a message naming the limit and what was found.
 *
 * The checks run in yoga's `onParams` hooks, which all run before the params handler: the response tier
 * answers from the cache in its params handler, before yoga parses or validates, and a refused operation
 * must not cost a cache lookup or a fill lock. A refusal is thrown rather than set as the result because
 * a throw also ends the `onParams` hooks: put this plugin before `useLoadCache`, whose own hook parses
 * each new document and remembers it, which a refused document must not be. Yoga answers the thrown
 * `GraphQLError` as the result.
 *
 * The checks parse the document with a token limit before yoga does, which keeps them out of yoga's parse
 * and validation caches: those are keyed by the document, and could not hold a verdict that depends on
 * the variables (the cost of `first: $n`). The documents that pass are remembered by their text, with
 * their cost when it does not depend on variables: a known operation without variables costs a map
 * lookup here (about 1 µs, where parsing, validating and estimating the feed takes about 100 µs); one
 * with variables is estimated again for each request (about 60 µs for the feed).
 *
 * Syntax errors and documents that do not fit the schema are left to yoga, which reports them as usual.
 * Depth, aliases and directives are GraphQL Armor's rules; the cost is graphql-query-complexity's, with
 * the estimator of query-cost.ts.
 */
export function useQueryLimits(schema: GraphQLSchema, limits: RequestLimits): Plugin {
  const estimateCost = createCostEstimate(schema)
  // Armor's rules throw their error by default; collect it instead, as a refusal with our status and code.
  const armor = {
    propagateOnRejection: false,
    onReject: [
      (context: ValidationContext | null, error: GraphQLError) => context?.reportError(asRefusal(error)),
    ],
  }
  const rules = [
    // Fragments add no depth of their own: a spread's fields count at the depth of the spread.
    maxDepthRule({ n: limits.maxDepth, flattenFragments: true, ...armor }),
    maxAliasesRule({ n: limits.maxAliases, ...armor }),
    maxDirectivesRule({ n: limits.maxDirectives, ...armor }),
    maxListLiteralRule(limits.maxListLength),
  ]
  const checked = new LRUCache<string, CheckedDocument>({
    max: MAX_DOCUMENTS,
    maxSize: MAX_DOCUMENTS_LENGTH,
    sizeCalculation: (_checked, query) => Math.max(1, query.length),
  })

  /** The document of `query` if it passes the checks that need no variables, else its refusal. */
  const check = (query: string): CheckedDocument | GraphQLError | undefined => {
    const known = checked.get(query)
    if (known !== undefined) return known
    const parsed = parseWithTokenLimit(query, limits.maxTokens)
    if (parsed.refusal !== undefined) return parsed.refusal
    if (parsed.document === undefined) return undefined
    const [refusal] = validate(schema, parsed.document, rules)
    if (refusal !== undefined) return refusal
    const operations = parsed.document.definitions.filter(
      (definition) => definition.kind === Kind.OPERATION_DEFINITION,
    )
    const passed: CheckedDocument = {
      document: parsed.document,
      usesVariables: operations.some((operation) => (operation.variableDefinitions?.length ?? 0) > 0),
      operationNames: new Set(operations.map((operation) => operation.name?.value ?? '')),
      costs: new Map(),
    }
    checked.set(query, passed)
    return passed
  }

  const refusalOf = (params: GraphQLParams): GraphQLError | undefined => {
    const tooLong = tooLongVariableList(params.variables, limits.maxListLength)
    if (tooLong !== undefined) return tooLong
    if (typeof params.query !== 'string') return undefined
    if (params.query.length > limits.maxQueryLength) {
      return refusedRequest(
        `Query too long: ${params.query.length} characters; at most ${limits.maxQueryLength} are allowed. ` +
          'Send long values as variables.',
        OVER_LIMIT,
      )
    }
    const document = check(params.query)
    if (document === undefined || document instanceof GraphQLError) return document
    const operation = params.operationName ?? ''
    let cost = document.costs.get(operation)
    if (cost === undefined) {
      try {
        cost = estimateCost({ ...params, document: document.document })
      } catch (error) {
        // Variables that do not fit the operation, or a fragment expansion past the estimate's node limit.
        return refusedRequest(error instanceof Error ? error.message : String(error), OVER_LIMIT)
      }
      // Not under any name a client makes up: that would grow the map without bound.
      const known = operation === '' || document.operationNames.has(operation)
      if (!document.usesVariables && known) document.costs.set(operation, cost)
    }
    if (cost <= limits.maxCost) return undefined
    return refusedRequest(
      `Query cost limit of ${limits.maxCost} exceeded, estimated ${cost}: every field counts 1, and what ` +
        'is under a list counts once per item (its first or ids argument, or its @listSize in the schema). ' +
        'Ask for fewer items or fewer nested lists.',
      OVER_LIMIT,
    )
  }

  return {
    onParams({ params }) {
      const refusal = refusalOf(params)
      if (refusal !== undefined) throw refusal
    },
  }
}

/**
 * Parses `source`, counting tokens with Armor's parser: `refusal` when there are more than `maxTokens`,
 * no `document` (and no refusal) on any other syntax error, which yoga then reports as usual.
 */
function parseWithTokenLimit(
  source: string,
  maxTokens: number,
): { document?: DocumentNode; refusal?: GraphQLError } {
  let tokenLimitError: GraphQLError | undefined
  try {
    const parser = new MaxTokensParserWLexer(source, {
      n: maxTokens,
      noLocation: true,
      onReject: [(_context, error) => (tokenLimitError = error)],
    })
    return { document: parser.parseDocument() }
  } catch (error) {
    return error === tokenLimitError && tokenLimitError !== undefined
      ? { refusal: asRefusal(tokenLimitError) }
      : {}
  }
}

/** Armor's error as a refusal; its messages all start with "Syntax Error: ", which only the token limit is. */
function asRefusal(error: GraphQLError): GraphQLError {
  return refusedRequest(error.message.replace(/^Syntax Error: /, ''), OVER_LIMIT)
}
