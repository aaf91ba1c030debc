import { readFileSync } from 'node:fs'
import { makeExecutableSchema } from '@graphql-tools/schema'
import type { GraphQLSchema } from 'graphql'
import { resolvers } from './resolvers.js'

/**
 * The example API's SDL (schema.graphql), including the `@cached`/`@invalidates` definitions and
 * annotations. Read from the file codegen reads, so the generated types and the running schema cannot
 * disagree.
 */
export const typeDefs: string = readFileSync(new URL('./schema.graphql', import.meta.url), 'utf8')

/**
 * Builds the executable schema: `typeDefs` with the example's resolvers. The directives are only
 * annotations here; applying them is the job of the loadcache yoga plugin (see server.ts).
 *
 * @throws Error when the resolvers name a type or field the SDL lacks (graphql-tools' validation).
 */
export function createExampleSchema(): GraphQLSchema {
  return makeExecutableSchema({ typeDefs, resolvers })
}
