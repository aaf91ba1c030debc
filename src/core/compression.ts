import { constants as bufferConstants } from 'node:buffer'
import { deflateRawSync, inflateRawSync } from 'node:zlib'

/**
 * Compression of entry payloads on their way to Redis: raw DEFLATE (Node's zlib, no dependency) at level 1,
 * then base64.
 *
 * - Level 1: on the example API's large payloads it stores 5 % more than level 6 for 60 % of its CPU, and
 *   15 % more than brotli at quality 4 for half of its CPU (bench/compression-RESULTS.md); zstd is not in
 *   Node 20's zlib.
 * - Synchronous: for payloads of a few KB to a few hundred KB the thread-pool hop of the async API costs more
 *   than the work, and it would queue behind fs and dns on libuv's 4 threads.
 * - base64: ioredis sends string arguments and returns replies as UTF-8 strings, and the Lua scripts handle
 *   entries as strings, so the stored bytes must survive a UTF-8 round trip. base64 adds a third to the
 *   compressed size, so a payload that is not smaller even then is stored as it was.
 */

/** Where a compressed payload ends up at most when inflated: no JavaScript string could hold more. */
const MAX_INFLATED_BYTES = bufferConstants.MAX_STRING_LENGTH

/**
 * The payload compressed, or `undefined` when it is below `threshold` bytes (UTF-8, as Redis stores it) or
 * compression would not make it smaller.
 */
export function compressPayload(payload: string, threshold: number): string | undefined {
  // A string takes at least `length` bytes in UTF-8 and at most three per UTF-16 unit: most payloads are
  // judged without counting their bytes, and none is encoded before it is known to be large enough.
  if (
    payload.length < threshold &&
    (payload.length * 3 < threshold || Buffer.byteLength(payload, 'utf8') < threshold)
  ) {
    return undefined
  }
  const bytes = Buffer.from(payload, 'utf8')
  if (bytes.length > MAX_INFLATED_BYTES) return undefined
  const compressed = deflateRawSync(bytes, { level: 1 }).toString('base64')
  return compressed.length < bytes.length ? compressed : undefined
}

/**
 * The payload `compressPayload` compressed, as it was.
 *
 * @throws Error when `stored` is not such a payload (corrupt, truncated, written by something else), or
 *   would inflate past the longest string Node can hold (a payload written to exhaust memory).
 */
export function inflatePayload(stored: string): string {
  // Buffer.from skips characters that are not base64 instead of failing; what they break, inflating catches.
  return inflateRawSync(Buffer.from(stored, 'base64'), { maxOutputLength: MAX_INFLATED_BYTES }).toString(
    'utf8',
  )
}
