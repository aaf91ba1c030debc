/** Which kind of row a write referred to. */
export type ReferencedEntity = 'user' | 'post'

/**
 * Thrown by writes whose input refers to a row that does not exist (e.g. `createPost` for an unknown
 * author). A dedicated class lets the API layer turn it into a "bad input" error instead of a 500.
 */
export class ReferenceNotFoundError extends Error {
  override readonly name = 'ReferenceNotFoundError'

  /**
   * @param operation the write that failed, used in the message (e.g. `createPost`)
   * @param entity what kind of row was missing
   * @param id the id exactly as the caller supplied it
   */
  constructor(
    readonly operation: string,
    readonly entity: ReferencedEntity,
    readonly id: string,
  ) {
    super(`${operation}: ${entity} ${JSON.stringify(id)} does not exist`)
  }
}
