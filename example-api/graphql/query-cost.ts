import { getDirective } from '@graphql-tools/utils'
import {
  type DocumentNode,
  type GraphQLField,
  type GraphQLSchema,
  getNullableType,
  isAbstractType,
  isEnumType,
  isInputObjectType,
  isInterfaceType,
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
 * Introspection counts too, with its lists sized by what this schema holds (its number of types, the most
 * fields of any type, …): the standard introspection query of GraphiQL and codegen is then estimated at
 * about the size of its answer, while a query nesting `fields { type { fields { type … } } }` is
 * refused like any other list fan-out. (GraphQL Armor leaves introspection out of depth and cost.)
 *
 * GraphQL Armor's cost limit is static: it multiplies by literal `first`/`last` arguments only, and a
 * list without them counts as one item. It scores the feed 981, and
 * `posts(first: 10) { comments { post { comments { body } } } }` (900,000 values) 213: any limit that
 * lets the feed through lets that through. graphql-query-complexity lets the estimator see field
 * definitions and argument values, variables included.
 *
 * @returns a function that estimates one operation's cost; it throws a `GraphQLError` when the variables do
 *   not fit the operation, or when the document expands (through fragments) past 10,000 selections.
 */
export function createCostEstimate(schema: GraphQLSchema): (operation: CostedOperation) => number {
  const listSizes = readListSizes(schema)
  for (const [field, size] of introspectionListSizes(schema)) listSizes.set(field, size)
  const estimators = [listSizeEstimator(listSizes)]
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

/**
 * The introspection types' list fields, sized by the largest list this schema can answer with: the
 * introspection of a given schema has a known size, and a guess of 100 per list would put GraphiQL's
 * introspection query at 35 million.
 */
function introspectionListSizes(schema: GraphQLSchema): Map<GraphQLField<unknown, unknown>, ListSize> {
  const types = Object.values(schema.getTypeMap())
  const directives = schema.getDirectives()
  const most = (counts: number[]) => Math.max(0, ...counts)
  const fieldMaps = types.flatMap((type) =>
    isObjectType(type) || isInterfaceType(type) ? [Object.values(type.getFields())] : [],
  )
  const sizes: Record<string, Record<string, number>> = {
    __Schema: { types: types.length, directives: directives.length },
    __Type: {
      fields: most(fieldMaps.map((fields) => fields.length)),
      inputFields: most(
        types.map((type) => (isInputObjectType(type) ? Object.keys(type.getFields()).length : 0)),
      ),
      enumValues: most(types.map((type) => (isEnumType(type) ? type.getValues().length : 0))),
      interfaces: most(
        types.map((type) => (isObjectType(type) || isInterfaceType(type) ? type.getInterfaces().length : 0)),
      ),
      possibleTypes: most(
        types.map((type) => (isAbstractType(type) ? schema.getPossibleTypes(type).length : 0)),
      ),
    },
    __Field: { args: most(fieldMaps.flat().map((field) => field.args.length)) },
    __Directive: {
      args: most(directives.map((directive) => directive.args.length)),
      locations: most(directives.map((directive) => directive.locations.length)),
    },
  }
  const result = new Map<GraphQLField<unknown, unknown>, ListSize>()
  for (const [typeName, fields] of Object.entries(sizes)) {
    const type = schema.getType(typeName)
    if (!isObjectType(type)) continue
    for (const [fieldName, assumedSize] of Object.entries(fields)) {
      const field = type.getFields()[fieldName]
      if (field !== undefined) result.set(field, { assumedSize })
    }
  }
  return result
}
