import type { Serializer } from '../core/entry.js'
import { jsonSerializer, structuredSerializer } from '../core/serializers.js'
import { responseSerializer, type StoredResponse } from '../response/stored-response.js'

/** What an entry's payload turned out to be. */
export type DecodedPayload =
  /** The source did not return the id (a cached "not found"). */
  | { readonly kind: 'absent' }
  | { readonly kind: 'value'; readonly serializer: string; readonly value: unknown }
  /** A whole response stored by the response tier. */
  | { readonly kind: 'response'; readonly serializer: string; readonly response: StoredResponse }
  /** A custom serializer's payload (shown as stored), or one its serializer rejects (a corrupt entry). */
  | {
      readonly kind: 'opaque'
      readonly serializer: string
      readonly reason: string
      readonly payload: string
    }

/** The serializers loadcache ships, by the id stored in each entry's header, with a name for people. */
const KNOWN: Readonly<Record<string, { readonly name: string; readonly serializer: Serializer }>> = {
  d6: { name: 'devalue 6 (d6)', serializer: structuredSerializer },
  j: { name: 'JSON (j)', serializer: jsonSerializer },
  r1: { name: 'stored response (r1)', serializer: responseSerializer },
}

/**
 * Decodes a payload by the serializer id in its entry's kind (`v<id>`, or `a` for absent). Never throws: a
 * payload of an unknown serializer is shown as stored, one that fails to decode says why.
 */
export function decodePayload(kind: string, payload: string): DecodedPayload {
  if (kind === 'a') return { kind: 'absent' }
  const id = kind.slice(1)
  const known = KNOWN[id]
  if (known === undefined) {
    return {
      kind: 'opaque',
      serializer: id,
      reason: `written by a custom serializer (id "${id}"); shown as stored`,
      payload,
    }
  }
  let value: unknown
  try {
    value = known.serializer.deserialize(payload)
  } catch (error) {
    return {
      kind: 'opaque',
      serializer: known.name,
      reason: `does not decode (${(error as Error).message}): loadcache treats it as a miss and removes it`,
      payload,
    }
  }
  return id === 'r1'
    ? { kind: 'response', serializer: known.name, response: value as StoredResponse }
    : { kind: 'value', serializer: known.name, value }
}
