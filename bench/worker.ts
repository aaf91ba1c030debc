/**
 * Entry point of every measured process (spawned by run.ts with `node --import tsx`; the task is in the
 * BENCH_TASK environment variable). It installs the client-side Redis command counter before any layer
 * loads, then runs the worker side of the task's scenario; its result is the reply to the orchestrator's
 * `go` (see lib/workers.ts), after which it exits.
 */
import { installCommandCounter } from './lib/redis-commands.js'
import { serveOrchestrator, type WorkerTask } from './lib/workers.js'
import { scenarioByName } from './scenarios/index.js'

installCommandCounter()

const task = JSON.parse(process.env.BENCH_TASK ?? '{}') as WorkerTask

try {
  await serveOrchestrator((ipc) => scenarioByName(task.scenario).worker(task, ipc))
  process.exit(0)
} catch (error) {
  console.error(error instanceof Error ? (error.stack ?? error.message) : String(error))
  process.exit(1)
}
