import { GraphQLError } from 'graphql'

/** What a request refused before execution is answered with: an HTTP status and a stable code. */
export interface Refusal {
  /** `extensions.code`, e.g. `GRAPHQL_VALIDATION_FAILED`, `BAD_USER_INPUT`, `UNAUTHENTICATED`. */
  code: string
  /** The HTTP status of the response, e.g. 400 or 401. */
  status: number
  /** Response headers to add, e.g. `WWW-Authenticate` with a 401. */
  headers?: Record<string, string>
}

/**
 * A GraphQL error that makes yoga answer with `refusal.status` whatever the client's `Accept` header.
 *
 * Yoga follows GraphQL over HTTP: errors found before execution are a 400 for
 * `application/graphql-response+json` clients, but a 200 for `application/json` ones (most clients,
 * including `fetch` with no Accept). Its own validation errors carry `extensions.http.spec: true` to ask
 * for that; an `extensions.http.status` without `spec` is sent as is, to every client. Yoga strips
 * `extensions.http` from the body.
 */
export function refusedRequest(message: string, refusal: Refusal): GraphQLError {
  const http = refusal.headers
    ? { status: refusal.status, headers: refusal.headers }
    : { status: refusal.status }
  return new GraphQLError(message, { extensions: { code: refusal.code, http } })
}
