/**
 * N+1 request, warm: Redis was pre-filled with every entity by another process (through the layer's own
 * write path), and the measured process starts with an empty L1. 32 concurrent requests in a closed loop,
 * each loading 100 ids drawn Zipf(1.0) from 10,000 through a fresh per-request DataLoader.
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

const NAME = 'n1-warm'

export const n1Warm: Scenario = {
  name: NAME,
  title: 'N+1 request, warm (Redis pre-filled by another process, empty L1)',

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
      context.log(`${NAME} ${layer}: ${Math.round(row.requestsPerSecond)} req/s`)
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
    ipc.ready()
    await ipc.go()
    const next = requestIds(config)
    const started = startMeasuring(setup.db)
    const loop = await closedLoop({
      concurrency: config.concurrency,
      durationMs: config.seconds * 1000,
      request: async () => {
        await n1Request(setup.layer, next())
      },
    })
    const report = workerReport(started, setup, loop)
    await setup.layer.close()
    return report
  },
}
