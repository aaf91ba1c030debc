import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases'
import { maxDepthRule } from '@escape.tech/graphql-armor-max-depth'
import { maxDirectivesRule } from '@escape.tech/graphql-armor-max-directives'
import { MaxTokensParserWLexer } from '@escape.tech/graphql-armor-max-tokens'
import {
  type DocumentNode,
  type GraphQLError,
  type GraphQLSchema,
  type ValidationContext,
  validate,
} from 'graphql'
import type { GraphQLParams, Plugin } from 'graphql-yoga'
import type { RequestLimits } from '../http/limits.js'
import { refusedRequest } from './client-errors.js'
import { maxListLiteralRule, tooLongVariableList } from './list-lengths.js'
import { createCostEstimate } from './query-cost.js'

const OVER_LIMIT = { code: 'GRAPHQL_VALIDATION_FAILED', status: 400 } as const

/**
 * Refuses GraphQL operations that exceed `limits` (see {@link RequestLimits}): lists in the variables,
 * the query's length, tokens, depth, aliases, directives, list literals and the estimated cost, in that order, cheapest first.
 * A refusal is a 400 whatever the client's `Accept` header, with `extensions.code` `BAD_USER_INPUT` (a
 * list) or `GRAPHQL_VALIDATION_FAILED` (the rest) and a message naming the limit and what was found.
 *
 * The checks run in yoga's `onParams`, and this plugin must come before `useLoadCache` in the plugin list:
 * the response tier answers from the cache in its own `onParams` handler, before yoga parses or validates,
 * and a refused operation must not cost a cache lookup or a fill lock. A refusal is thrown, not set as the
 * result, because throwing also skips the `onParams` hooks after this one: the response tier's would
 * parse the refused document and remember it. Yoga answers the thrown `GraphQLError` as its result.
 *
 * The checks parse the document once more than yoga does (yoga parses again after them), with a token
 * limit; for the documents that pass, that is microseconds. Doing it here keeps the limits out of yoga's
 * parse and validation caches, which are keyed by the document and so could not hold a verdict that
 * depends on the variables (the cost of `first: $n`).
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
    const parsed = parseWithTokenLimit(params.query, limits.maxTokens)
    if (parsed.refusal !== undefined) return parsed.refusal
    if (parsed.document === undefined) return undefined
    const [refusal] = validate(schema, parsed.document, rules)
    if (refusal !== undefined) return refusal
    let cost: number
    try {
      cost = estimateCost({ ...params, document: parsed.document })
    } catch (error) {
      // Variables that do not fit the operation, or a fragment expansion past the estimate's node limit.
      return refusedRequest(error instanceof Error ? error.message : String(error), OVER_LIMIT)
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
