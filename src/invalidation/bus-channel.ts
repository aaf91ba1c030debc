/** What a bus channel reports to the bus. Each callback is called by the channel only, never re-entrantly. */
export interface BusChannelEvents {
  /**
   * The channel is subscribed (again). `sentAt` (performance.now()) is when the subscribe command was sent:
   * every message Redis pushes on this connection from then on is heard.
   */
  subscribed(sentAt: number): void
  /** The subscription is gone (connection closed, slot moved, node failed): messages may be missed. */
  lost(reason: string): void
  /** A message arrived on the bus channel. */
  message(message: string): void
}

/**
 * The bus's Redis channel, as one topology needs it: how it is subscribed, how the subscribed connection is
 * PINGed (the L1 lease: the PING must travel on the very connection the messages arrive on, so that its
 * answer comes after every message pushed before it), and how a message is published from the client.
 */
export interface BusChannel {
  /**
   * PINGs the subscribed connection. Resolves `true` once answered by a connection that is still
   * subscribed, `false` when the answer shows the subscription is gone (the channel then subscribes again
   * by itself, after reporting `lost`). Rejects when the connection fails.
   */
  ping(): Promise<boolean>
  /** Publishes a message on the bus channel from the client. Rejects as the Redis command does. */
  publish(message: string): Promise<unknown>
  /**
   * Gives up on the subscribed connection and subscribes again: its PINGs go unanswered (a frozen or
   * partitioned node). A no-op where there is no other node to go to and the client reconnects by itself.
   */
  resubscribe(reason: string): void
  /** Unsubscribes and closes the channel's own connection; the client passed in stays open. */
  close(): Promise<void>
}

/**
 * Whether a PING answer comes from a subscribed connection: in subscribed mode (RESP2) Redis answers
 * `["pong", ""]`, otherwise `PONG`. A connection Redis unsubscribed on its own (a shard channel whose
 * slot moved) answers the second way.
 */
export function isSubscribedPong(reply: unknown): boolean {
  return Array.isArray(reply) && String(reply[0]).toLowerCase() === 'pong'
}
