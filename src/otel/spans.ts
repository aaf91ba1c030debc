import { type Span, SpanKind, SpanStatusCode, type Tracer } from '@opentelemetry/api'
import type { EngineTracing } from '../engine/tracing.js'

/**
 * The engine's tracing hooks as OpenTelemetry spans, each started with the span active at the call as its
 * parent and active while the work runs:
 *
 * - `loadcache.fetch` (INTERNAL) around one call of a loader's `fetch` (or one batch of a cached field's
 *   resolvers): `loadcache.loader`, `loadcache.ids` (how many), `loadcache.failed` (how many failed). A
 *   fetch that threw, timed out or failed ids has status ERROR and the (first) error recorded.
 * - `loadcache.redis <operation>` (CLIENT) around one Redis round trip (`read`, `write`, `invalidate`,
 *   `read-tags`, `discard`): `db.system.name` = `redis`, `loadcache.redis.operation`; ERROR when it failed or
 *   timed out (the load then carried on without Redis).
 *
 * Wrapping, rather than spans built afterwards from the `fetch` and `redis` events, is what makes the
 * database queries a fetch runs (and the commands ioredis sends) children of these spans when they are
 * instrumented too; events arrive after the fact, too late to be anyone's parent.
 */
export function spanTracing(tracer: Tracer, namespace: string): EngineTracing {
  return {
    fetch: (loader, ids, run) =>
      tracer.startActiveSpan(
        'loadcache.fetch',
        {
          kind: SpanKind.INTERNAL,
          attributes: { 'loadcache.loader': loader, 'loadcache.ids': ids, 'loadcache.namespace': namespace },
        },
        async (span) => {
          try {
            const result = await run()
            const errors = result instanceof Error ? [result] : failures(result)
            const failed = result instanceof Error ? ids : errors.length
            span.setAttribute('loadcache.failed', failed)
            if (errors[0] !== undefined) fail(span, errors[0], `${failed} of ${ids} ids failed`)
            return result
          } catch (error) {
            span.setAttribute('loadcache.failed', ids)
            fail(span, error, `the fetch of ${ids} ids failed`)
            throw error
          } finally {
            span.end()
          }
        },
      ),
    redis: (operation, run) =>
      tracer.startActiveSpan(
        `loadcache.redis ${operation}`,
        {
          kind: SpanKind.CLIENT,
          attributes: {
            'db.system.name': 'redis',
            'loadcache.redis.operation': operation,
            'loadcache.namespace': namespace,
          },
        },
        async (span) => {
          try {
            return await run()
          } catch (error) {
            fail(span, error, `Redis ${operation} failed`)
            throw error
          } finally {
            span.end()
          }
        },
      ),
  }
}

function failures(outcomes: readonly { readonly kind: string; readonly error?: Error }[]): Error[] {
  const errors: Error[] = []
  for (const outcome of outcomes) if (outcome.kind === 'error' && outcome.error) errors.push(outcome.error)
  return errors
}

function fail(span: Span, error: unknown, summary: string): void {
  const exception = error instanceof Error ? error : new Error(String(error))
  span.recordException(exception)
  span.setStatus({ code: SpanStatusCode.ERROR, message: `${summary}: ${exception.message}` })
}
