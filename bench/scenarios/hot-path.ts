/**
 * Hot path: every entity is already in L1 (the process loaded all 10,000 through the layer, then ran a JIT
 * warm-up), so a request never leaves the process. The floor is `dataloader-map`: a plain per-request
 * DataLoader over a Map. Same closed loop as the N+1 workloads (32 concurrent requests of 100 Zipf ids);
 * the figure of merit is time per request relative to the floor.
 */
import type { LayerName } from '../adapters/layer.js'
import { config } from '../lib/config.js'
import { closedLoop } from '../lib/measure.js'
import { n1Request, requestIds } from '../lib/n1.js'
import {
  type Figures,
  loadUniverse,
  measureWorkers,
  type Scenario,
  setUpLayer,
  startMeasuring,
  task,
  toFigures,
  workerReport,
} from '../lib/scenario.js'

const NAME = 'hot-path'
const HOT_LAYERS = [
  'dataloader-map',
  'loadcache',
  'loadcache-memory',
  'cache-aside',
  'bentocache',
  'cacheable',
]

export const hotPath: Scenario = {
  name: NAME,
  title: 'Hot path (every entry in L1) against a plain DataLoader over a Map',

  async run(context) {
    const figures: Figures[] = []
    // The floor first, so every other row reads against it.
    const layers = HOT_LAYERS.filter((name) => (context.layers as readonly string[]).includes(name))
    for (const layer of layers as LayerName[]) {
      await context.admin.flushall()
      const { reports, redis } = await measureWorkers(context, [
        task(context, NAME, 'measure', layer, 'bench'),
      ])
      figures.push(toFigures(NAME, layer, reports, redis))
    }
    const floor = figures.find((row) => row.layer === 'dataloader-map')
    for (const row of figures) {
      const usPerRequest = 1e6 / row.requestsPerSecond
      row.extra = {
        ...row.extra,
        usPerRequest,
        timeVsFloor: floor ? floor.requestsPerSecond / row.requestsPerSecond : undefined,
      }
      context.log(`${NAME} ${row.layer}: ${usPerRequest.toFixed(1)} µs/request`)
    }
    return figures
  },

  async worker(task, ipc) {
    const setup = await setUpLayer(task, config)
    await loadUniverse(setup.layer, config.universe)
    const next = requestIds(config)
    const warmupMs = Math.min(1000, config.hotSeconds * 200)
    await closedLoop({
      concurrency: config.concurrency,
      durationMs: warmupMs,
      request: async () => {
        await n1Request(setup.layer, next())
      },
    })
    const before = setup.layer.stats()
    ipc.ready()
    await ipc.go()
    const started = startMeasuring(setup.db)
    const loop = await closedLoop({
      concurrency: config.concurrency,
      durationMs: config.hotSeconds * 1000,
      request: async () => {
        await n1Request(setup.layer, next())
      },
    })
    const report = workerReport(started, setup, loop, { extra: { statsBeforeMeasuring: before } })
    await setup.layer.close()
    return report
  },
}
