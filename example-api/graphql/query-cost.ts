import { getDirective } from '@graphql-tools/utils'
import {
  type DocumentNode,
  type GraphQLField,
  type GraphQLSchema,
  getNullableType,
  isListType,
  isObjectType,
} from 'graphql'
import { type ComplexityEstimator, getComplexity } from 'graphql-query-complexity'

/** How many items a list field without `@listSize` is assumed to return. */
export const DEFAULT_LIST_SIZE = 100

/** What one query asks for, as the estimate needs it. */
export interface CostedOperation {
  document: DocumentNode
  /** The variables as the client sent them; defaults of the operation apply to the ones left out. */
  variables?: Record<string, unknown> | null | undefined
  operationName?: string | null | undefined
}

/** The arguments of one `@listSize`. */
interface ListSize {
  assumedSize?: number
  slicingArguments?: readonly string[]
}

/**
 * Builds the cost estimate of the query cost limit for `schema`: every field counts 1, and what is selected
 * under a list field counts once per item it is expected to return. That is the number of values a
 * response holds at most, which is what makes a query expensive here: the 13.5 MB response of a 5-deep
 * `posts { author { posts … } }` came from lists multiplying, not from its handful of fields.
 *
 * How many items a list field returns comes from its `@listSize` in the schema (schema.graphql defines it: a
 * subset of the GraphQL cost directives specification's, which Apollo's demand control and Hot Chocolate
 * implement, extended so that a list-valued slicing argument counts by its length): the value of the first
 * `slicingArguments` argument the query gives (`first: 50`, or the 3 ids of `ids: [...]`), otherwise its
 * `assumedSize`, otherwise {@link DEFAULT_LIST_SIZE}. Variables count as their values, so
 * `posts(first: $n)` costs what `$n` asks for.
 *
 * GraphQL Armor's cost limit is static: it multiplies by literal `first`/`last` arguments only, so it
 * rates `posts(first: 100) { comments { post { comments { body } } } }` (9 million values) cheaper than
 * the feed. graphql-query-complexity lets the estimator see field definitions and argument values.
 *
 * @returns a function that estimates one operation's cost; it throws a `GraphQLError` when the variables do
 *   not fit the operation, or when the document expands (through fragments) past 10,000 selections.
 */
export function createCostEstimate(schema: GraphQLSchema): (operation: CostedOperation) => number {
  const estimators = [listSizeEstimator(readListSizes(schema))]
  return ({ document, variables, operationName }) =>
    getComplexity({
      schema,
      query: document,
      variables: variables ?? {},
      operationName: operationName ?? undefined,
      estimators,
    })
}

function listSizeEstimator(
  listSizes: ReadonlyMap<GraphQLField<unknown, unknown>, ListSize>,
): ComplexityEstimator {
  return ({ field, args, childComplexity }) => {
    if (!isListType(getNullableType(field.type))) return 1 + childComplexity
    // A list of scalars has no children but still one value per item.
    return 1 + itemCount(listSizes.get(field), args) * Math.max(childComplexity, 1)
  }
}

function itemCount(size: ListSize | undefined, args: Record<string, unknown>): number {
  for (const name of size?.slicingArguments ?? []) {
    const value = args[name]
    if (typeof value === 'number') return Math.max(0, value)
    if (Array.isArray(value)) return value.length
  }
  return size?.assumedSize ?? DEFAULT_LIST_SIZE
}

/** The `@listSize` of every field that has one, read once: the estimate runs for every request. */
function readListSizes(schema: GraphQLSchema): Map<GraphQLField<unknown, unknown>, ListSize> {
  const sizes = new Map<GraphQLField<unknown, unknown>, ListSize>()
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type) || type.name.startsWith('__')) continue
    for (const field of Object.values(type.getFields())) {
      const size = getDirective(schema, field, 'listSize')?.[0] as ListSize | undefined
      if (size !== undefined) sizes.set(field, size)
    }
  }
  return sizes
}
