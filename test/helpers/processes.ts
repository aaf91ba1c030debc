import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { onTestFinished } from 'vitest'
import { ChildProcessHarness } from './child-process.js'

const workerPath = join(dirname(fileURLToPath(import.meta.url)), 'worker.ts')

export interface Worker {
  /** The worker's process id (for signals). */
  readonly pid: number | undefined
  /** Sends a command and resolves with the worker's answer. */
  call<T = Record<string, unknown>>(command: object): Promise<T>
  /** Resolves with the next event of this name the worker emits (e.g. `fetch`). */
  nextEvent(name: string): Promise<Record<string, unknown>>
  kill(signal?: NodeJS.Signals): Promise<void>
}

let workers = 0

/** Starts a worker process (see worker.ts) and resolves once its bus is subscribed. Killed after the test. */
export async function startWorker(env: Record<string, string>): Promise<Worker> {
  const child = new ChildProcessHarness(workerPath, { env, label: `worker ${++workers}` })
  onTestFinished(() => child.kill())
  let timer: NodeJS.Timeout | undefined
  await Promise.race([
    child.ready,
    new Promise((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`${child.label} not ready after 20 s\n${child.output}`)),
        20_000,
      )
    }),
  ]).finally(() => clearTimeout(timer))
  return {
    pid: child.pid,
    call: <T>(command: object) => child.call<T>(command),
    nextEvent: (name) => child.nextEvent(name),
    kill: (signal) => child.kill(signal),
  }
}
