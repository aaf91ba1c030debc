/**
 * Worker processes: every measured process is a fresh `node --import tsx bench/worker.ts`, so each layer
 * runs in the same process model, starts with an empty L1, and has its own CPU time and peak RSS.
 *
 * Over the harness the tests use too (test/helpers/child-process.ts): the worker says `ready` once its layer
 * is set up; the orchestrator resets Redis statistics and calls `go` (with a wall-clock start time for
 * multi-process scenarios), whose reply is the worker's result (or its error); then the worker exits. In
 * between, the orchestrator may `ask` (a server reporting its counters) or `send` a message the worker
 * waits for.
 */
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { answerParent, ChildProcessHarness } from '../../test/helpers/child-process.js'
import type { LayerName } from '../adapters/layer.js'
import { config } from './config.js'

const benchDir = join(dirname(fileURLToPath(import.meta.url)), '..')
export const repoRoot = join(benchDir, '..')
const workerPath = join(benchDir, 'worker.ts')

export interface WorkerTask {
  scenario: string
  role: string
  /** A layer name (bench/adapters), or a server variant for the end-to-end workload. */
  layer: LayerName | string
  redisPort: number
  namespace: string
  /** Index of this worker among the processes of one measurement. */
  index: number
  params: Record<string, unknown>
}

export interface GoMessage {
  type: 'go'
  /** Epoch ms at which to start (multi-process scenarios start together). */
  at?: number
}

export class WorkerProcess {
  readonly task: WorkerTask
  readonly ready: Promise<unknown>
  readonly result: Promise<unknown>
  readonly #child: ChildProcessHarness
  #go!: (message: GoMessage) => void

  constructor(task: WorkerTask) {
    this.task = task
    this.#child = new ChildProcessHarness(workerPath, {
      cwd: repoRoot,
      env: { BENCH_TASK: JSON.stringify(task) },
      nodeArgs: config.nodeArgs,
      label: `worker ${task.scenario}/${task.role}/${task.layer}#${task.index}`,
    })
    this.ready = this.#child.ready
    const started = new Promise<GoMessage>((resolve) => (this.#go = resolve))
    // The reply to `go` is the result (a worker that has died by then fails it).
    this.result = started.then((message) => this.#child.call(message))
    this.ready.catch(() => {})
    this.result.catch(() => {})
  }

  go(message: Omit<GoMessage, 'type'> = {}): void {
    this.#go({ type: 'go', ...message })
  }

  /** Sends another message the worker waits for with `ipc.waitFor(type)`. */
  send(message: { type: string }): void {
    this.#child.call(message).catch(() => {})
  }

  /**
   * Asks a worker that answers with `ipc.answer(type, …)` (e.g. a server reporting its counters between
   * rounds) and resolves with its reply; rejects if the worker fails or exits first.
   */
  ask(type: string): Promise<unknown> {
    return this.#child.call({ type })
  }

  /** Kills the worker if it is still running (by its own pid). */
  kill(): void {
    void this.#child.kill()
  }
}

/** Worker side: the messages a scenario's worker function uses. */
export interface WorkerIpc {
  ready(data?: unknown): void
  go(): Promise<GoMessage>
  /** Answers every `ask(type)` of the orchestrator with `reply()`, until the process exits. */
  answer(type: string, reply: () => unknown): void
  waitFor(type: string): Promise<{ type: string }>
}

/**
 * The worker side, for bench/worker.ts: `run` gets the IPC a scenario's worker function uses and returns its
 * result, which becomes the reply to the orchestrator's `go`.
 */
export function serveOrchestrator(run: (ipc: WorkerIpc) => Promise<unknown>): Promise<unknown> {
  const answers = new Map<string, () => unknown>()
  const waiters = new Map<string, (message: { type: string }) => void>()
  const arrived = new Map<string, { type: string }>()
  let startedWith!: (message: GoMessage) => void
  const started = new Promise<GoMessage>((resolve) => (startedWith = resolve))
  let result!: Promise<unknown>
  const parent = answerParent((command: { type: string }) => {
    if (command.type === 'go') {
      startedWith(command as GoMessage)
      return result
    }
    const answer = answers.get(command.type)
    if (answer !== undefined) return answer()
    const waiter = waiters.get(command.type)
    if (waiter !== undefined) waiter(command)
    else arrived.set(command.type, command)
    return null
  })
  const ipc: WorkerIpc = {
    ready: (data) => parent.ready(data),
    go: () => started,
    answer: (type, reply) => {
      answers.set(type, reply)
    },
    waitFor: (type) =>
      new Promise((resolve) => {
        const early = arrived.get(type)
        if (early !== undefined) {
          arrived.delete(type)
          resolve(early)
        } else {
          waiters.set(type, (message) => {
            waiters.delete(type)
            resolve(message)
          })
        }
      }),
  }
  result = run(ipc)
  // Resolves once the reply to `go` (sent when `result` settles) has left: the worker may then exit.
  return result.then(
    async (value) => {
      await new Promise((resolve) => setImmediate(resolve))
      await parent.flushed()
      return value
    },
    async (error: unknown) => {
      await new Promise((resolve) => setImmediate(resolve))
      await parent.flushed()
      throw error
    },
  )
}
