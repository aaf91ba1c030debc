/**
 * Worker processes: every measured process is a fresh `node --import tsx bench/worker.ts`, so each layer
 * runs in the same process model, starts with an empty L1, and has its own CPU time and peak RSS.
 *
 * Protocol (Node IPC): the worker sends `ready` once its layer is set up; the orchestrator resets Redis
 * statistics and sends `go` (with a wall-clock start time for multi-process scenarios); the worker runs and
 * sends `result` (or `error`), then exits. In between, a worker may answer `ask`s (`reply`, by id).
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { LayerName } from '../adapters/layer.js'

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

type WorkerMessage =
  | { type: 'ready'; data?: unknown }
  | { type: 'result'; data: unknown }
  | { type: 'error'; message: string }
  | { type: 'reply'; id: number; data: unknown }

export class WorkerProcess {
  readonly task: WorkerTask
  readonly #child: ChildProcess
  readonly ready: Promise<unknown>
  readonly result: Promise<unknown>
  #output = ''
  #asked = 0
  readonly #replies = new Map<number, (data: unknown) => void>()

  constructor(task: WorkerTask) {
    this.task = task
    this.#child = spawn(process.execPath, ['--import', 'tsx', workerPath], {
      cwd: repoRoot,
      env: { ...process.env, BENCH_TASK: JSON.stringify(task) },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    })
    const keep = (chunk: Buffer) => {
      this.#output = (this.#output + chunk.toString()).slice(-20_000)
    }
    this.#child.stdout?.on('data', keep)
    this.#child.stderr?.on('data', keep)
    let resolveReady!: (data: unknown) => void
    let resolveResult!: (data: unknown) => void
    let fail!: (error: Error) => void
    const failed = new Promise<never>((_, reject) => {
      fail = reject
    })
    this.ready = Promise.race([failed, new Promise<unknown>((resolve) => (resolveReady = resolve))])
    this.result = Promise.race([failed, new Promise<unknown>((resolve) => (resolveResult = resolve))])
    this.ready.catch(() => {})
    this.result.catch(() => {})
    const name = `${task.scenario}/${task.role}/${task.layer}#${task.index}`
    this.#child.on('message', (message: WorkerMessage) => {
      if (message.type === 'ready') resolveReady(message.data)
      else if (message.type === 'result') resolveResult(message.data)
      else if (message.type === 'reply') {
        this.#replies.get(message.id)?.(message.data)
        this.#replies.delete(message.id)
      } else if (message.type === 'error')
        fail(new Error(`worker ${name} failed: ${message.message}\n${this.#output}`))
    })
    this.#child.once('exit', (code, signal) => {
      // IPC messages sent just before exiting may be read after 'exit': give them a moment. A no-op when
      // the result already arrived.
      setTimeout(
        () => fail(new Error(`worker ${name} exited (${code ?? signal}) before answering:\n${this.#output}`)),
        1000,
      ).unref()
    })
  }

  go(message: Omit<GoMessage, 'type'> = {}): void {
    this.#child.send({ type: 'go', ...message } satisfies GoMessage)
  }

  /** Sends another message the worker waits for with `ipc.waitFor(type)`. */
  send(message: { type: string }): void {
    this.#child.send(message)
  }

  /**
   * Asks a worker that answers with `ipc.answer(type, …)` (e.g. a server reporting its counters between
   * rounds) and resolves with its reply; rejects if the worker fails or exits first.
   */
  ask(type: string): Promise<unknown> {
    const id = ++this.#asked
    const reply = new Promise<unknown>((resolve) => this.#replies.set(id, resolve))
    this.#child.send({ type, id })
    return Promise.race([
      reply,
      this.result.then(() => Promise.reject(new Error(`worker answered no ${type}`))),
    ])
  }

  /** Kills the worker if it is still running (by its own pid). */
  kill(): void {
    if (this.#child.exitCode === null && this.#child.signalCode === null) this.#child.kill('SIGKILL')
  }
}

/** Worker side: the messages a scenario's worker function uses. */
export const ipc = {
  ready(data?: unknown): void {
    process.send?.({ type: 'ready', data })
  },
  go(): Promise<GoMessage> {
    return ipc.waitFor('go') as Promise<GoMessage>
  },
  /** Answers every `ask(type)` of the orchestrator with `reply()`, until the process exits. */
  answer(type: string, reply: () => unknown): void {
    process.on('message', (message: { type: string; id: number }) => {
      if (message?.type === type) process.send?.({ type: 'reply', id: message.id, data: reply() })
    })
  },
  waitFor(type: string): Promise<{ type: string }> {
    return new Promise((resolve) => {
      const onMessage = (message: { type: string }) => {
        if (message?.type !== type) return
        process.off('message', onMessage)
        resolve(message)
      }
      process.on('message', onMessage)
    })
  },
}
export type WorkerIpc = typeof ipc
