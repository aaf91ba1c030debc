/**
 * N+1 request with churn: warm like `n1-warm`, and 5% of requests then update one entity (drawn from the same
 * Zipf distribution, so hot entities change while other requests read them), invalidate it through the
 * layer, and read it back with a fresh DataLoader.
 *
 * Stale reads: every read records, when it starts, the newest version of its entity whose invalidation had
 * already resolved; a read that returns an older version is stale. That is exactly what a cache must never
 * do (reads that started before the invalidation resolved may legitimately return the old version, and are
 * not counted). `behindSource` also counts reads that returned a version older than the database's when
 * they resolved, legitimate races included, for information.
 */
import { N1_LAYERS } from '../adapters/layer.js'
import { config } from '../lib/config.js'
import { closedLoop } from '../lib/measure.js'
import { n1Request, requestIds } from '../lib/n1.js'
import {
  type Figures,
  loadUniverse,
  measureWorkers,
  runUnmeasured,
  type Scenario,
  setUpLayer,
  startMeasuring,
  task,
  toFigures,
  workerReport,
} from '../lib/scenario.js'
import { prng, Zipf } from '../lib/zipf.js'

const NAME = 'n1-churn'

export const n1Churn: Scenario = {
  name: NAME,
  title: 'N+1 request with churn (warm; 5% of requests update, invalidate and read back an entity)',

  async run(context) {
    const figures: Figures[] = []
    for (const layer of context.layers.filter((name) => N1_LAYERS.includes(name))) {
      await context.admin.flushall()
      const namespace = 'bench'
      if (layer !== 'no-cache') await runUnmeasured(task(context, NAME, 'prefill', layer, namespace))
      const { reports, redis } = await measureWorkers(context, [
        task(context, NAME, 'measure', layer, namespace),
      ])
      const row = toFigures(NAME, layer, reports, redis)
      figures.push(row)
      context.log(
        `${NAME} ${layer}: ${Math.round(row.requestsPerSecond)} req/s, ${row.staleReads} stale reads`,
      )
    }
    return figures
  },

  async worker(task, ipc) {
    const setup = await setUpLayer(task, config)
    if (task.role === 'prefill') {
      await loadUniverse(setup.layer, config.universe)
      ipc.ready()
      await ipc.go()
      await setup.layer.close()
      return {}
    }
    const { layer, db } = setup
    ipc.ready()
    await ipc.go()
    const next = requestIds(config)
    const zipf = new Zipf(config.universe, config.zipfS)
    const updateRandom = prng(config.seed + 1)
    /** Per entity: the newest version whose invalidation has resolved. */
    const invalidated = new Map<string, number>()
    let staleReads = 0
    let staleReadBacks = 0
    let behindSource = 0
    let readBacks = 0
    let reads = 0
    const started = startMeasuring(db)
    const loop = await closedLoop({
      concurrency: config.concurrency,
      durationMs: config.seconds * 1000,
      request: async () => {
        const ids = next()
        const floors = ids.map((id) => invalidated.get(id) ?? 0)
        const rows = await n1Request(layer, ids)
        for (let i = 0; i < rows.length; i++) {
          const row = rows[i]!
          reads++
          if (row.version < floors[i]!) staleReads++
          if (row.version < db.version(row.id)) behindSource++
        }
        if (updateRandom() >= config.churnUpdateRatio) return
        const id = String(zipf.sample(updateRandom))
        const version = await db.update(id)
        await layer.invalidate(id)
        if ((invalidated.get(id) ?? 0) < version) invalidated.set(id, version)
        const floor = invalidated.get(id)!
        const [row] = await n1Request(layer, [id])
        readBacks++
        reads++
        if (row!.version < floor) {
          staleReads++
          staleReadBacks++
        }
        if (row!.version < db.version(id)) behindSource++
      },
    })
    const report = workerReport(started, setup, loop, {
      staleReads,
      behindSource,
      extra: { reads, readBacks, staleReadBacks },
    })
    await layer.close()
    return report
  },
}
