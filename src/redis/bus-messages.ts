/** Bytes of one bus message at most: a huge invalidation is split into several, never dropped. */
const MAX_MESSAGE_BYTES = 64 * 1024

/**
 * Publishes `head` + `lines` in messages of at most MAX_MESSAGE_BYTES (plus the line that crossed it),
 * each starting with `head`, one after the other. For announcements the client makes (Redis Cluster:
 * scripts cannot publish to the bus channel's slot).
 */
export async function publishInMessages(
  head: readonly string[],
  lines: readonly string[],
  publish: (message: string) => Promise<unknown>,
): Promise<void> {
  const messages: string[] = []
  let current = [...head]
  let bytes = 0
  for (const line of lines) {
    if (bytes + line.length > MAX_MESSAGE_BYTES && current.length > head.length) {
      messages.push(current.join('\n'))
      current = [...head]
      bytes = 0
    }
    current.push(line)
    bytes += line.length + 1
  }
  if (current.length > head.length) messages.push(current.join('\n'))
  for (const message of messages) await publish(message)
}
