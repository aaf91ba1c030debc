/**
 * Talking to the example API over HTTP from the orchestrator: single GraphQL requests (checks, writes,
 * stampedes), autocannon for throughput, and Redis's own byte counters.
 */
import type autocannon from 'autocannon'
import type { Redis } from 'ioredis'

/** The feed: 50 posts with ~2,000 comments and their authors, a 66 KB response of ~4,000 objects. */
export const FEED_QUERY = '{ posts(first: 50) { title author { name } comments { author { name } } } }'

/** What GraphQL clients send (graphql-request, urql): either JSON type, the GraphQL one preferred. */
const ACCEPT = 'application/graphql-response+json, application/json'

export interface GraphqlResponse {
  status: number
  text: string
  headers: Headers
}

/**
 * POSTs one GraphQL request, as `viewer` when given (the example API takes mutations from a signed-in
 * viewer only); rejects on a non-2xx status or a response carrying `errors`.
 */
export async function postGraphql(
  url: string,
  query: string,
  variables?: Record<string, unknown>,
  viewer?: string,
): Promise<GraphqlResponse> {
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: ACCEPT,
      ...(viewer === undefined ? {} : { authorization: `Bearer ${viewer}` }),
    },
    body: JSON.stringify({ query, variables }),
  })
  const text = await response.text()
  if (!response.ok || text.includes('"errors"')) throw new Error(`${response.status} ${text.slice(0, 300)}`)
  return { status: response.status, text, headers: response.headers }
}

/** A closed loop of `connections` keep-alive connections POSTing one query for `seconds`. */
export async function loadWith(
  url: string,
  query: string,
  options: { seconds: number; connections: number },
): Promise<autocannon.Result> {
  // Loaded here, not at the top: every worker process imports the scenarios, and only the orchestrator
  // runs autocannon.
  const { default: autocannon } = await import('autocannon')
  return autocannon({
    url,
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: ACCEPT },
    body: JSON.stringify({ query }),
    connections: options.connections,
    duration: options.seconds,
  })
}

/**
 * Bytes Redis has written to and read from its clients since it started (INFO stats). What Redis wrote is
 * what the servers read from it; the difference across a measurement, over the requests, is the Redis
 * traffic a request costs. The INFO reply itself adds ~2 KB to one reading, negligible over a measurement.
 */
export async function redisNetBytes(admin: Redis): Promise<{ output: number; input: number }> {
  const info = await admin.info('stats')
  const read = (field: string) => Number(new RegExp(`^${field}:(\\d+)`, 'm').exec(info)?.[1] ?? Number.NaN)
  return { output: read('total_net_output_bytes'), input: read('total_net_input_bytes') }
}
