/**
 * N+1 request, cold stampede: an empty cache (FLUSHALL, fresh processes with empty L1s), then 4 processes
 * fire 125 concurrent requests each, all for the same 100 distinct ids, at the same wall-clock instant.
 * The ideal is 100 source rows fleet-wide (each id fetched once). Repeated BENCH_STAMPEDE_ROUNDS times per
 * layer; each round is reported.
 */
import { N1_LAYERS } from '../adapters/layer.js'
import { config } from '../lib/config.js'
import { sleep } from '../lib/measure.js'
import { n1Request } from '../lib/n1.js'
import {
  type Figures,
  measureWorkers,
  type Scenario,
  setUpLayer,
  startMeasuring,
  task,
  toFigures,
  workerReport,
} from '../lib/scenario.js'
import { prng, Zipf } from '../lib/zipf.js'

const NAME = 'n1-cold-stampede'

export const n1ColdStampede: Scenario = {
  name: NAME,
  title: 'N+1 request, cold stampede (4 processes × 125 concurrent requests for the same 100 ids)',

  async run(context) {
    const figures: Figures[] = []
    const { stampedeProcesses, stampedeRounds } = context.config
    for (const layer of context.layers.filter((name) => N1_LAYERS.includes(name))) {
      for (let round = 1; round <= stampedeRounds; round++) {
        await context.admin.flushall()
        const tasks = Array.from({ length: stampedeProcesses }, (_, index) =>
          task(context, NAME, 'stampede', layer, 'bench', index),
        )
        const { reports, redis } = await measureWorkers(context, tasks)
        const row = toFigures(NAME, layer, reports, redis, { round })
        figures.push(row)
        context.log(
          `${NAME} ${layer} round ${round}: ${row.source.rows} rows, ${row.redis.topLevel} Redis commands, ${Math.round(row.elapsedMs)} ms`,
        )
      }
    }
    return figures
  },

  async worker(task, ipc) {
    const setup = await setUpLayer(task, config)
    const ids = new Zipf(config.universe, config.zipfS).distinctIds(
      prng(config.seed + 7),
      config.idsPerRequest,
    )
    ipc.ready()
    const { at } = await ipc.go()
    if (at !== undefined) await sleep(Math.max(0, at - Date.now()))
    const started = startMeasuring(setup.db)
    const t0 = performance.now()
    const latencies: number[] = []
    let errors = 0
    let firstError: string | undefined
    await Promise.all(
      Array.from({ length: config.stampedeRequestsPerProcess }, async () => {
        const began = performance.now()
        try {
          await n1Request(setup.layer, ids)
        } catch (error) {
          errors++
          firstError ??= String(error)
        }
        latencies.push(performance.now() - began)
      }),
    )
    const elapsedMs = performance.now() - t0
    const report = workerReport(
      started,
      setup,
      { requests: latencies.length, errors, elapsedMs, latencies, firstError },
      { rawLatencies: true },
    )
    await setup.layer.close()
    return report
  },
}
