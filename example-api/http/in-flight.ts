import type { IncomingMessage, Server, ServerResponse } from 'node:http'

/** The requests a node:http server is answering, and a graceful way to stop it. */
export interface RequestsInFlight {
  /** Requests received (headers read) whose response has not finished or been aborted yet. */
  readonly count: number
  /**
   * Stops the server: it accepts no new connection, lets every request in flight finish for at most
   * `timeoutMs`, then closes the connections left. Responses sent meanwhile carry `Connection: close` and
   * keep-alive connections are closed as soon as they are idle, so clients open their next connection to
   * another instance instead of finding this one gone. Call it once.
   *
   * @returns how many requests were still in flight at the timeout (their connections were closed): 0
   *   when every request was answered.
   */
  drain(timeoutMs: number): Promise<number>
}

/**
 * Counts the requests `server` is answering, for `/metrics` and for {@link RequestsInFlight.drain}.
 * Attach it before the server listens.
 *
 * Without a drain, `server.close()` plus `closeAllConnections()` (what a naive SIGTERM handler does) cuts
 * the requests in flight: their clients see an empty reply, and a retried mutation may run twice.
 */
export function trackRequestsInFlight(server: Server): RequestsInFlight {
  const inFlight = new Set<ServerResponse>()
  let draining = false
  let onAllAnswered: (() => void) | undefined

  server.on('request', (_request: IncomingMessage, response: ServerResponse) => {
    inFlight.add(response)
    // A request that arrives on a kept-alive connection during the drain is answered, then the connection closed.
    if (draining) closeConnectionAfter(response)
    // 'close' follows 'finish', and also comes alone when the client goes away first.
    response.once('close', () => {
      inFlight.delete(response)
      if (!draining) return
      server.closeIdleConnections()
      if (inFlight.size === 0) onAllAnswered?.()
    })
  })

  return {
    get count() {
      return inFlight.size
    },
    async drain(timeoutMs) {
      draining = true
      for (const response of inFlight) closeConnectionAfter(response)
      const closed = new Promise<void>((resolve) => server.close(() => resolve()))
      server.closeIdleConnections()
      if (inFlight.size > 0) {
        let timer: NodeJS.Timeout | undefined
        await new Promise<void>((resolve) => {
          onAllAnswered = resolve
          timer = setTimeout(resolve, timeoutMs)
        })
        clearTimeout(timer)
      }
      const unanswered = inFlight.size
      server.closeAllConnections()
      await closed
      return unanswered
    },
  }
}

/** Asks node:http to close the connection once this response is sent (too late if its headers are out). */
function closeConnectionAfter(response: ServerResponse): void {
  if (!response.headersSent) response.setHeader('connection', 'close')
}
