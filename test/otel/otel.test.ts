import { makeExecutableSchema } from '@graphql-tools/schema'
import { context, SpanKind, SpanStatusCode, type Tracer } from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import {
  type DataPoint,
  type Histogram,
  MeterProvider,
  MetricReader,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics'
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base'
import { createYoga } from 'graphql-yoga'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { loadCacheDirectiveTypeDefs } from '../../src/graphql/index.js'
import { defineLoader, type LoadCache } from '../../src/index.js'
import { instrumentLoadCache } from '../../src/otel/index.js'
import { useLoadCache } from '../../src/yoga/index.js'
import { cacheFactory } from '../helpers/cache.js'
import { type RedisServer, startRedisServer } from '../helpers/redis-server.js'
import { TestSource } from '../helpers/source.js'

/** A reader that collects only when asked (no export interval: nothing depends on timing). */
class PullReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

const contextManager = new AsyncLocalStorageContextManager()
beforeAll(() => {
  // Parentage across awaits needs a context manager, as in any instrumented application.
  context.setGlobalContextManager(contextManager.enable())
})
afterAll(() => {
  context.disable()
})

let providers: { shutdown(): Promise<void> }[] = []
afterEach(async () => {
  await Promise.all(providers.map((provider) => provider.shutdown()))
  providers = []
})

/** Providers that keep spans and metrics in memory, and the cache instrumented with them. */
function instrumented(cache: LoadCache) {
  const exporter = new InMemorySpanExporter()
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })
  const reader = new PullReader()
  const meterProvider = new MeterProvider({ readers: [reader] })
  providers.push(tracerProvider, meterProvider)
  const remove = instrumentLoadCache(cache, { tracerProvider, meterProvider })
  const tracer = tracerProvider.getTracer('test')
  return {
    remove,
    tracer,
    spans: () => exporter.getFinishedSpans(),
    named: (name: string) => exporter.getFinishedSpans().filter((span) => span.name === name),
    reset: () => exporter.reset(),
    metrics: async () => metricsOf((await reader.collect()).resourceMetrics),
  }
}

/** Runs `work` inside an active span named `request`, as an instrumented HTTP server would. */
async function inRequest<T>(
  tracer: Tracer,
  work: () => Promise<T>,
): Promise<{ result: T; span: ReadableSpan }> {
  return tracer.startActiveSpan('request', async (span) => {
    try {
      return { result: await work(), span: span as unknown as ReadableSpan }
    } finally {
      span.end()
    }
  })
}

const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId

function metricsOf(resourceMetrics: ResourceMetrics) {
  const all = resourceMetrics.scopeMetrics.flatMap((scope) => scope.metrics)
  const points = (name: string) => all.find((metric) => metric.descriptor.name === name)?.dataPoints ?? []
  const matching = <T>(name: string, attributes: Record<string, unknown>) =>
    (points(name) as DataPoint<T>[]).find((point) =>
      Object.entries(attributes).every(([key, value]) => point.attributes[key] === value),
    )
  return {
    scopes: resourceMetrics.scopeMetrics.map((scope) => scope.scope.name),
    value: (name: string, attributes: Record<string, unknown> = {}) =>
      matching<number>(name, attributes)?.value,
    histogram: (name: string, attributes: Record<string, unknown> = {}) =>
      matching<Histogram>(name, attributes)?.value,
  }
}

describe('spans (memory)', () => {
  it('makes each fetch call a loadcache.fetch span, a child of the span active at the load', async () => {
    const cache = await cacheFactory('memory')()
    const otel = instrumented(cache)
    const user = defineLoader({ name: 'user', fetch: new TestSource(5).fetch })

    const { span: request } = await inRequest(otel.tracer, () =>
      cache.loaders({ user }).user.loadMany(['1', '2']),
    )
    // All L1 hits: no fetch, no span.
    await inRequest(otel.tracer, () => cache.loaders({ user }).user.loadMany(['1', '2']))

    const fetches = otel.named('loadcache.fetch')
    expect(fetches).toHaveLength(1)
    const [fetch] = fetches
    expect(fetch!.kind).toBe(SpanKind.INTERNAL)
    expect(fetch!.attributes).toEqual({
      'loadcache.loader': 'user',
      'loadcache.ids': 2,
      'loadcache.failed': 0,
      'loadcache.namespace': expect.any(String),
    })
    expect(fetch!.status.code).toBe(SpanStatusCode.UNSET)
    expect(parentOf(fetch!)).toBe(request.spanContext().spanId)
    expect(fetch!.spanContext().traceId).toBe(request.spanContext().traceId)
    expect(fetch!.instrumentationScope.name).toBe('loadcache')
  })

  it('makes what the fetch does (a database query span) a child of loadcache.fetch', async () => {
    const cache = await cacheFactory('memory')()
    const otel = instrumented(cache)
    const user = defineLoader({
      name: 'user',
      fetch: (ids: readonly string[]) =>
        otel.tracer.startActiveSpan('SELECT users', async (query) => {
          query.end()
          return ids.map((id) => ({ id }))
        }),
    })
    await inRequest(otel.tracer, () => cache.loaders({ user }).user.load('1'))
    const [fetch] = otel.named('loadcache.fetch')
    const [query] = otel.named('SELECT users')
    expect(parentOf(query!)).toBe(fetch!.spanContext().spanId)
  })

  it('marks a fetch that failed ids as an error, and one that threw as failing every id', async () => {
    const cache = await cacheFactory('memory')()
    const otel = instrumented(cache)
    const source = new TestSource(3)
    source.failingIds.add('2')
    const user = defineLoader({ name: 'user', fetch: source.fetch })
    await cache.loaders({ user }).user.loadMany(['1', '2', '3'])
    const [partial] = otel.named('loadcache.fetch')
    expect(partial!.attributes['loadcache.failed']).toBe(1)
    expect(partial!.status).toEqual({
      code: SpanStatusCode.ERROR,
      message: '1 of 3 ids failed: row 2 failed',
    })
    expect(partial!.events.map((event) => event.name)).toEqual(['exception'])

    otel.reset()
    source.failure = new Error('database down')
    await cache.loaders({ user }).user.loadMany(['4', '5'])
    const [thrown] = otel.named('loadcache.fetch')
    expect(thrown!.attributes['loadcache.failed']).toBe(2)
    expect(thrown!.status.code).toBe(SpanStatusCode.ERROR)
    expect(thrown!.status.message).toContain('database down')
  })

  it("runs a cached GraphQL field's resolvers inside a loadcache.fetch span named by its coordinate", async () => {
    const cache = await cacheFactory('memory')()
    const otel = instrumented(cache)
    const schema = makeExecutableSchema({
      typeDefs: [loadCacheDirectiveTypeDefs(), 'type Query { greeting: String @cached(ttl: 60) }'],
      resolvers: {
        Query: {
          greeting: () =>
            otel.tracer.startActiveSpan('resolver work', (work) => {
              work.end()
              return 'hello'
            }),
        },
      },
    })
    const yoga = createYoga({ schema, logging: false, plugins: [useLoadCache({ cache })] })
    const ask = () =>
      yoga.fetch('http://localhost/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: '{ greeting }' }),
      })
    const { span: request } = await inRequest(otel.tracer, async () => (await ask()).json())
    await inRequest(otel.tracer, async () => (await ask()).json())

    const fetches = otel.named('loadcache.fetch')
    expect(fetches.map((span) => span.attributes['loadcache.loader'])).toEqual(['Query.greeting'])
    expect(parentOf(fetches[0]!)).toBe(request.spanContext().spanId)
    expect(parentOf(otel.named('resolver work')[0]!)).toBe(fetches[0]!.spanContext().spanId)
  })
})

describe('metrics (memory)', () => {
  it('reports hits by loader and tier, misses and fetch duration through the meter', async () => {
    const cache = await cacheFactory('memory')()
    const otel = instrumented(cache)
    const user = defineLoader({ name: 'user', fetch: new TestSource(5).fetch })
    await cache.loaders({ user }).user.loadMany(['1', '2'])
    await cache.loaders({ user }).user.loadMany(['1', '2', '3'])

    const metrics = await otel.metrics()
    expect(metrics.scopes).toEqual(['loadcache'])
    const loader = { 'loadcache.loader': 'user' }
    expect(metrics.value('loadcache.hits', { ...loader, 'loadcache.tier': 'l1' })).toBe(2)
    expect(metrics.value('loadcache.hits', { ...loader, 'loadcache.tier': 'l2' })).toBe(0)
    expect(metrics.value('loadcache.misses', loader)).toBe(3)
    expect(metrics.value('loadcache.fetches', loader)).toBe(2)
    expect(metrics.value('loadcache.fetched_ids', loader)).toBe(3)
    expect(metrics.value('loadcache.l1.entries')).toBe(3)
    expect(metrics.value('loadcache.redis.breaker', { 'loadcache.breaker.state': 'disabled' })).toBe(1)
    const duration = metrics.histogram('loadcache.fetch.duration', { ...loader, 'loadcache.outcome': 'ok' })
    expect(duration?.count).toBe(2)
    // The advised boundaries (seconds), not the SDK's defaults (meant for milliseconds).
    expect(duration?.buckets.boundaries[0]).toBe(0.001)
  })
})

describe('removing and re-instrumenting', () => {
  it('refuses to instrument a cache twice, and instruments it again once the first is removed', async () => {
    const cache = await cacheFactory('memory')()
    const first = instrumented(cache)
    expect(() => instrumentLoadCache(cache)).toThrow(
      '[loadcache] instrumentLoadCache: this cache is already instrumented; call the function the first call returned before instrumenting it again',
    )
    first.remove()
    const user = defineLoader({ name: 'user', fetch: new TestSource(2).fetch })
    await cache.loaders({ user }).user.load('1')
    expect(first.spans()).toEqual([])
    const second = instrumented(cache)
    await cache.loaders({ user }).user.load('2')
    expect(second.named('loadcache.fetch')).toHaveLength(1)
    expect(first.spans()).toEqual([])
  })

  it('makes no spans with traces: false, and reports no metrics with metrics: false', async () => {
    const cache = await cacheFactory('memory')()
    const exporter = new InMemorySpanExporter()
    const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })
    const reader = new PullReader()
    const meterProvider = new MeterProvider({ readers: [reader] })
    providers.push(tracerProvider, meterProvider)
    const user = defineLoader({ name: 'user', fetch: new TestSource(2).fetch })

    const remove = instrumentLoadCache(cache, { tracerProvider, meterProvider, traces: false })
    await cache.loaders({ user }).user.load('1')
    expect(exporter.getFinishedSpans()).toEqual([])
    expect(metricsOf((await reader.collect()).resourceMetrics).value('loadcache.misses')).toBe(1)
    remove()

    instrumentLoadCache(cache, { tracerProvider, meterProvider, metrics: false })
    await cache.loaders({ user }).user.load('2')
    expect(exporter.getFinishedSpans()).toHaveLength(1)
  })
})

describe('on Redis', () => {
  let server: RedisServer
  beforeAll(async () => {
    server = await startRedisServer()
  })
  afterAll(() => server.dispose())

  it('makes each Redis round trip a loadcache.redis <operation> client span under the active span', async () => {
    const cache = await cacheFactory('redis', server)()
    const otel = instrumented(cache)
    const user = defineLoader({ name: 'user', fetch: new TestSource(5).fetch })
    const { span: request } = await inRequest(otel.tracer, () =>
      cache.loaders({ user }).user.loadMany(['1', '2']),
    )

    // A batch of misses: read-and-lock, fetch, write-and-unlock.
    const spans = otel.spans().filter((span) => span.name.startsWith('loadcache.'))
    expect(spans.map((span) => span.name)).toEqual([
      'loadcache.redis read',
      'loadcache.fetch',
      'loadcache.redis write',
    ])
    for (const span of spans) expect(parentOf(span)).toBe(request.spanContext().spanId)
    const [read] = spans
    expect(read!.kind).toBe(SpanKind.CLIENT)
    expect(read!.attributes).toMatchObject({ 'db.system.name': 'redis', 'loadcache.redis.operation': 'read' })

    const metrics = await otel.metrics()
    const readDuration = metrics.histogram('loadcache.redis.duration', {
      'loadcache.redis.operation': 'read',
      'loadcache.outcome': 'ok',
    })
    expect(readDuration?.count).toBe(1)
    expect(metrics.value('loadcache.bus.connected')).toBe(1)
  })

  it('reports L2 hits by loader, as another process sees them', async () => {
    const makeCache = cacheFactory('redis', server)
    const user = defineLoader({ name: 'user', fetch: new TestSource(5).fetch })
    await (await makeCache()).loaders({ user }).user.loadMany(['1', '2'])
    const reader = await makeCache()
    const otel = instrumented(reader)
    await reader.loaders({ user }).user.loadMany(['1', '2'])
    const metrics = await otel.metrics()
    expect(metrics.value('loadcache.hits', { 'loadcache.loader': 'user', 'loadcache.tier': 'l2' })).toBe(2)
    expect(otel.named('loadcache.fetch')).toEqual([])
    expect(otel.named('loadcache.redis read')).toHaveLength(1)
  })

  it('marks a Redis round trip that failed as an error span, and the load still answers', async () => {
    const own = await startRedisServer()
    try {
      const source = new TestSource(1)
      const user = defineLoader({ name: 'user', fetch: source.fetch })
      const cache = await cacheFactory('redis', own)({ redisTimeoutMs: 100 })
      const otel = instrumented(cache)
      await own.stop()
      expect(await cache.loaders({ user }).user.load('1')).toEqual(source.rows.get('1'))
      const [read] = otel.named('loadcache.redis read')
      expect(read!.status.code).toBe(SpanStatusCode.ERROR)
      expect(read!.status.message).toMatch(/^Redis read failed: /)
    } finally {
      await own.dispose()
    }
  })
})
