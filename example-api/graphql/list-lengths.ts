import { type ASTNode, type GraphQLError, Kind, type ValidationRule } from 'graphql'
import { refusedRequest } from './client-errors.js'

const TOO_LONG = { code: 'BAD_USER_INPUT', status: 400 } as const

/**
 * The first list longer than `max` in a request's variables, as a 400 `BAD_USER_INPUT` error naming the
 * variable path (`$ids`, `$input.tags[2]`), or `undefined` when every list fits.
 *
 * Runs on the variables as the client sent them, before the document is even parsed: the cheapest place
 * to refuse `users(ids: $ids)` with 80,000 ids. Walks every value once; the body limit bounds how many.
 */
export function tooLongVariableList(variables: unknown, max: number): GraphQLError | undefined {
  if (typeof variables !== 'object' || variables === null) return undefined
  const pending: Array<[path: string, value: unknown]> = Object.entries(variables).map(([name, value]) => [
    `$${name}`,
    value,
  ])
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const [path, value] = next
    if (Array.isArray(value)) {
      if (value.length > max) {
        return refusedRequest(
          `List too long: ${path} has ${value.length} items; at most ${max} are allowed.`,
          TOO_LONG,
        )
      }
      for (const [index, item] of value.entries()) pending.push([`${path}[${index}]`, item])
    } else if (typeof value === 'object' && value !== null) {
      for (const [key, item] of Object.entries(value)) pending.push([`${path}.${key}`, item])
    }
  }
  return undefined
}

/**
 * A validation rule refusing list literals longer than `max` written in the document itself, e.g.
 * `users(ids: ["1", "2", …])`: the inline counterpart of {@link tooLongVariableList}.
 */
export function maxListLiteralRule(max: number): ValidationRule {
  return (context) => ({
    ListValue(node, _key, parent) {
      if (node.values.length <= max) return
      context.reportError(
        refusedRequest(
          `List too long: ${describeList(parent)} has ${node.values.length} items; at most ${max} are allowed.`,
          TOO_LONG,
        ),
      )
    },
  })
}

/** `argument "ids"`, `input field "tags"`, or `a list` when it is nested in another list. */
function describeList(parent: ASTNode | readonly ASTNode[] | undefined): string {
  if (parent === undefined || Array.isArray(parent)) return 'a list'
  const node = parent as ASTNode
  if (node.kind === Kind.ARGUMENT) return `argument "${node.name.value}"`
  if (node.kind === Kind.OBJECT_FIELD) return `input field "${node.name.value}"`
  return 'a list'
}
