/**
 * What one request to the example API may ask for. Each limit is answered with a 4xx and a message that
 * names the limit, the value allowed and the value found, before any resolver runs or the cache is read,
 * and the server goes on answering everyone else.
 *
 * The values are chosen against the heaviest legitimate requests of this API: the feed
 * `{ posts(first: 50) { title author { name } comments { author { name } } } }` (depth 4, about 25 tokens,
 * cost 30,201), a batch of 50 tRPC lookups, and the queries of the test suites. Change them together with
 * the schema: a new list field needs its `@listSize`, and a new screen may need a larger cost.
 */
export interface RequestLimits {
  /**
   * Largest request body, in bytes (GraphQL → 413 `REQUEST_ENTITY_TOO_LARGE`, tRPC → 413
   * `PAYLOAD_TOO_LARGE`). Default 100,000: the largest legitimate body here is a mutation with a 10,000
   * character post body; yoga's own default of 25 MB lets a client make the server parse 25 MB of JSON.
   */
  maxRequestBodyBytes: number
  /**
   * Most items in one list argument, inline or in variables, e.g. `users(ids: [...])` (→ 400
   * `BAD_USER_INPUT`). Default 100: the largest page `posts(first)` serves, and what one screen shows.
   */
  maxListLength: number
  /**
   * Deepest field nesting (→ 400). Default 6 (GraphQL Armor's default): the feed is 4 deep; anything deeper
   * in this schema walks a cycle (`posts { author { posts … } } }`), whose size the cost limit bounds.
   */
  maxDepth: number
  /**
   * Most aliases in an operation (→ 400). Default 30: aliases are how a client asks for several posts by id
   * in one request (the schema has no `posts(ids)`); the test suites look up 20 at once.
   */
  maxAliases: number
  /** Most directives in an operation (→ 400). Default 20: a few `@include`/`@skip` per screen, with room. */
  maxDirectives: number
  /**
   * Longest GraphQL document, in characters (→ 400). Default 10,000, a hundred times the feed. Yoga and
   * the response tier each keep the text of recent documents (1,024 and 2,000 of them), and one token can
   * be a 90 KB string: this bounds what they hold. Long values belong in variables.
   */
  maxQueryLength: number
  /**
   * Most lexical tokens in a document (→ 400). Default 1,000, 40 times the feed: it bounds the parser's
   * work before any other check can run, and the size of every tree the other checks walk.
   */
  maxTokens: number
  /**
   * Highest estimated cost (→ 400): every field counts 1, and the fields under a list count once per
   * item: `first` or `ids` for the top-level lists, the `@listSize(assumedSize)` of schema.graphql for the
   * nested ones. Default 50,000: the feed costs 30,201; a second feed in the same request, or
   * `posts(first: 100) { comments { post { comments { body } } } }` (9 million), does not fit.
   */
  maxCost: number
  /** Most calls in one tRPC batch (→ 400). Default 100, the same as a GraphQL list argument. */
  maxTrpcBatchSize: number
}

/** The limits {@link RequestLimits} documents, with the reasons given there. */
export const DEFAULT_REQUEST_LIMITS: Readonly<RequestLimits> = Object.freeze({
  maxRequestBodyBytes: 100_000,
  maxListLength: 100,
  maxQueryLength: 10_000,
  maxDepth: 6,
  maxAliases: 30,
  maxDirectives: 20,
  maxTokens: 1000,
  maxCost: 50_000,
  maxTrpcBatchSize: 100,
})
