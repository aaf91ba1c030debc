import { type ChildProcess, spawn } from 'node:child_process'
import { dirname, join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { onTestFinished } from 'vitest'

const workerPath = join(dirname(fileURLToPath(import.meta.url)), 'worker.ts')

export interface Worker {
  readonly process: ChildProcess
  /** Sends a command and resolves with the worker's answer. */
  call<T = Record<string, unknown>>(command: object): Promise<T>
  /** Resolves with the next event of this name the worker prints (e.g. `fetch`). */
  nextEvent(name: string): Promise<Record<string, unknown>>
  kill(signal?: NodeJS.Signals): Promise<void>
}

/** Starts a worker process (see worker.ts) and resolves once its bus is subscribed. Killed after the test. */
export async function startWorker(env: Record<string, string>): Promise<Worker> {
  const child = spawn(process.execPath, ['--import', 'tsx', workerPath], {
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'inherit'],
  })
  const pending = new Map<number, (message: Record<string, unknown>) => void>()
  const eventWaiters: Array<{ name: string; resolve: (message: Record<string, unknown>) => void }> = []
  let seq = 0
  let ready!: () => void
  const readyPromise = new Promise<void>((resolve) => (ready = resolve))
  createInterface({ input: child.stdout! }).on('line', (line) => {
    let message: Record<string, unknown>
    try {
      message = JSON.parse(line) as Record<string, unknown>
    } catch {
      return
    }
    if (message.event === 'ready') ready()
    if (typeof message.event === 'string') {
      const index = eventWaiters.findIndex((waiter) => waiter.name === message.event)
      if (index >= 0) eventWaiters.splice(index, 1)[0]!.resolve(message)
      return
    }
    const resolve = pending.get(message.seq as number)
    pending.delete(message.seq as number)
    resolve?.(message)
  })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const worker: Worker = {
    process: child,
    call<T>(command: object) {
      const id = ++seq
      return new Promise<T>((resolve, reject) => {
        pending.set(id, (message) =>
          message.error ? reject(new Error(String(message.error))) : resolve(message as T),
        )
        child.stdin!.write(`${JSON.stringify({ ...command, seq: id })}\n`)
      })
    },
    nextEvent(name) {
      return new Promise((resolve) => eventWaiters.push({ name, resolve }))
    },
    async kill(signal = 'SIGKILL') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      await exited
    },
  }
  onTestFinished(() => worker.kill())
  await Promise.race([
    readyPromise,
    exited.then(() => {
      throw new Error('worker exited before it was ready')
    }),
    new Promise((_, reject) => setTimeout(() => reject(new Error('worker not ready after 20 s')), 20_000)),
  ])
  return worker
}
