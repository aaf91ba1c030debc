import { GraphQLError } from 'graphql'
import { ReferenceNotFoundError } from './db/index.js'

/**
 * A client mistake, reported with its message and `extensions.code: 'BAD_USER_INPUT'`. Being a
 * `GraphQLError`, yoga shows it as is; any other error is masked as "Unexpected error." and logged.
 */
export function badUserInput(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: 'BAD_USER_INPUT' } })
}

/**
 * Runs a database write, turning "your input refers to a row that does not exist" into a
 * `BAD_USER_INPUT` error; anything else is rethrown unchanged (and masked by yoga).
 */
export async function writeOrBadInput<T>(write: () => Promise<T>): Promise<T> {
  try {
    return await write()
  } catch (error) {
    if (error instanceof ReferenceNotFoundError) {
      throw badUserInput(`${error.entity} ${JSON.stringify(error.id)} does not exist`)
    }
    throw error
  }
}
