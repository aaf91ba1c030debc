/**
 * `promise`, or a rejection with `timeoutError()` once `timeoutMs` have passed, whichever settles first.
 *
 * `replyWinsOverLateTimer`: when the event loop was blocked past the deadline, the timers phase runs before
 * the poll phase reads a reply that already arrived. The timeout's verdict then waits one setImmediate
 * (after the poll phase), so such a reply wins and a busy process does not mistake a healthy server for a
 * slow one.
 */
export function withDeadline<T>(
  promise: Promise<T>,
  timeoutMs: number,
  timeoutError: () => Error,
  replyWinsOverLateTimer = false,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(
      replyWinsOverLateTimer
        ? () => setImmediate(() => reject(timeoutError()))
        : () => reject(timeoutError()),
      timeoutMs,
    )
    promise.then(
      (value) => {
        clearTimeout(timer)
        resolve(value)
      },
      (error: unknown) => {
        clearTimeout(timer)
        reject(error)
      },
    )
  })
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
