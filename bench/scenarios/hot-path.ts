/**
 * Hot path: every entity is already in L1 (the process loaded all 10,000 through the layer, then ran a JIT
 * warm-up), so a request never leaves the process. The floor is `dataloader-map`: a plain per-request
 * DataLoader over a Map. Same closed loop as the N+1 workloads (32 concurrent requests of 100 Zipf ids);
 * the figure of merit is time per request relative to the floor.
 *
 * Interleaved: every layer's process is started at once, and they take turns (time slots of SLICE_MS,
 * each layer's turn in every round), so that a busy machine slows every layer alike and the ratios to the
 * floor stay comparable. Measured one after another, the ratios moved by 2x from run to run on a shared
 * machine (1.2x and 2.4x for the same code).
 */
import { config } from '../lib/config.js'
import { closedLoop, sleep } from '../lib/measure.js'
import { n1Request, requestIds } from '../lib/n1.js'
import { commandFigures } from '../lib/redis-commands.js'
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
/** One layer's turn (ms), and the pause after it so the last requests of a turn finish before the next. */
const SLICE_MS = 200
const GAP_MS = 25
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
    // The floor first, so every other row reads against it.
    const layers = HOT_LAYERS.filter((name) => (context.layers as readonly string[]).includes(name))
    await context.admin.flushall()
    const slices = Math.max(1, Math.round((config.hotSeconds * 1000) / SLICE_MS))
    const { reports } = await measureWorkers(
      context,
      layers.map((layer, slot) =>
        task(context, NAME, 'measure', layer, `bench-${layer}`, slot, { slot, slots: layers.length, slices }),
      ),
    )
    // Redis's own counters cover every layer of the run at once; each row gets what its process's clients
    // sent (a hot path runs no scripts, so nothing is hidden inside one).
    const figures: Figures[] = layers.map((layer, i) => {
      const sent = reports[i]!.sentCommands
      return toFigures(NAME, layer, [reports[i]!], commandFigures(sent, sent))
    })
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
    // Twice: a fill whose Redis write timed out while six processes started at once on two cores is, by
    // design, not kept in L1 (one run measured 200 such ids as misses); the second pass fills them.
    await loadUniverse(setup.layer, config.universe)
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
    const { at = Date.now() } = await ipc.go()
    const { slot, slots, slices } = task.params as { slot: number; slots: number; slices: number }
    const started = startMeasuring(setup.db)
    const loop = {
      requests: 0,
      errors: 0,
      elapsedMs: 0,
      latencies: [] as number[],
      firstError: undefined as string | undefined,
    }
    for (let round = 0; round < slices; round++) {
      // This layer's turn in this round; the others sleep meanwhile.
      const turn = at + (round * slots + slot) * (SLICE_MS + GAP_MS)
      await sleep(Math.max(0, turn - Date.now()))
      const slice = await closedLoop({
        concurrency: config.concurrency,
        durationMs: SLICE_MS,
        request: async () => {
          await n1Request(setup.layer, next())
        },
      })
      loop.requests += slice.requests
      loop.errors += slice.errors
      loop.elapsedMs += slice.elapsedMs
      for (const latency of slice.latencies) loop.latencies.push(latency)
      loop.firstError ??= slice.firstError
    }
    const report = workerReport(started, setup, loop, { extra: { statsBeforeMeasuring: before } })
    await setup.layer.close()
    return report
  },
}
