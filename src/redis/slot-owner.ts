import type { Cluster, Redis } from 'ioredis'
import { LoadCacheError } from '../core/errors.js'

/**
 * The connection the Cluster client keeps to the master that owns `slot`, as its slot map says. With
 * `refresh`, the slot map is fetched again first: after a failover or a slot migration the cached map still
 * names the old owner until ioredis happens to be redirected.
 *
 * Waits up to `readyTimeoutMs` for a client that is still connecting, and connects one made with
 * `lazyConnect` (nothing else would, if the cache is its only user).
 *
 * @throws LoadCacheError `E_CLUSTER_TOPOLOGY` when the client is not ready in time, the slot map cannot be
 *   fetched, or no known master owns the slot (the cluster is failing over).
 */
export async function slotOwner(
  cluster: Cluster,
  slot: number,
  options: { readonly refresh: boolean; readonly readyTimeoutMs: number },
): Promise<Redis> {
  await whenReady(cluster, options.readyTimeoutMs)
  if (options.refresh) {
    await new Promise<void>((resolve, reject) =>
      cluster.refreshSlotsCache((error) =>
        error ? reject(topologyError(`cannot fetch the slot map: ${error.message}`, error)) : resolve(),
      ),
    )
  }
  const ownerKey = cluster.slots[slot]?.[0]
  if (ownerKey === undefined) throw topologyError(`no node owns slot ${slot}`)
  const owner = cluster.nodes('all').find((node) => `${node.options.host}:${node.options.port}` === ownerKey)
  if (owner === undefined)
    throw topologyError(`slot ${slot} is owned by ${ownerKey}, which the client does not know`)
  return owner
}

async function whenReady(cluster: Cluster, timeoutMs: number): Promise<void> {
  if (cluster.status === 'ready') return
  if (cluster.status === 'wait') cluster.connect().catch(() => {})
  await new Promise<void>((resolve, reject) => {
    const onReady = () => {
      clearTimeout(timer)
      resolve()
    }
    const timer = setTimeout(() => {
      cluster.off('ready', onReady)
      reject(
        topologyError(`the cluster client is not ready after ${timeoutMs} ms (status ${cluster.status})`),
      )
    }, timeoutMs)
    timer.unref()
    cluster.once('ready', onReady)
  })
}

function topologyError(message: string, cause?: unknown): LoadCacheError {
  return new LoadCacheError('E_CLUSTER_TOPOLOGY', `[redis] ${message}`, { cause })
}
