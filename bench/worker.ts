/**
 * Entry point of every measured process (spawned by run.ts with `node --import tsx`; the task is in the
 * BENCH_TASK environment variable). It installs the client-side Redis command counter before any layer
 * loads, then runs the worker side of the task's scenario.
 */
import { installCommandCounter } from './lib/redis-commands.js'
import { ipc, type WorkerTask } from './lib/workers.js'
import { scenarioByName } from './scenarios/index.js'

installCommandCounter()

const task = JSON.parse(process.env.BENCH_TASK ?? '{}') as WorkerTask

function finish(message: object, code: number): void {
  if (process.send) process.send(message, () => process.exit(code))
  else process.exit(code)
}

try {
  const scenario = scenarioByName(task.scenario)
  const data = await scenario.worker(task, ipc)
  finish({ type: 'result', data }, 0)
} catch (error) {
  finish(
    { type: 'error', message: error instanceof Error ? (error.stack ?? error.message) : String(error) },
    1,
  )
}
