/**
 * The fleet: one long-lived process per instance (`node --import tsx bench/fanout/worker.ts`), reused
 * across measurements. A process opens one cache at a time, of either design, so the processes are spawned
 * once per run (16 of them) instead of once per measurement; an idle one has no cache, hence no bus
 * subscription and no Redis connection, and costs nothing while others are measured.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Command } from './protocol.js'

const fanoutDir = join(dirname(fileURLToPath(import.meta.url)), '..')
const workerPath = join(fanoutDir, 'worker.ts')
export const repoRoot = join(fanoutDir, '..', '..')

type Reply = { seq: number; result?: unknown; error?: string }

export class Instance {
  readonly index: number
  readonly #child: ChildProcess
  readonly #pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>()
  readonly ready: Promise<void>
  #seq = 0
  #output = ''
  #exited = false

  constructor(index: number) {
    this.index = index
    this.#child = spawn(process.execPath, ['--import', 'tsx', workerPath], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    })
    const keep = (chunk: Buffer) => {
      this.#output = (this.#output + chunk.toString()).slice(-10_000)
    }
    this.#child.stdout?.on('data', keep)
    this.#child.stderr?.on('data', keep)
    let ready!: () => void
    this.ready = new Promise<void>((resolve) => (ready = resolve))
    this.#child.on('message', (reply: Reply) => {
      if (reply.seq === 0) return ready()
      const waiter = this.#pending.get(reply.seq)
      this.#pending.delete(reply.seq)
      if (reply.error !== undefined)
        waiter?.reject(new Error(`instance ${index}: ${reply.error}\n${this.#output}`))
      else waiter?.resolve(reply.result)
    })
    this.#child.once('exit', (code, signal) => {
      this.#exited = true
      const error = new Error(`instance ${index} exited (${code ?? signal})\n${this.#output}`)
      for (const waiter of this.#pending.values()) waiter.reject(error)
      this.#pending.clear()
    })
  }

  get pid(): number | undefined {
    return this.#child.pid
  }

  call<T>(command: Command): Promise<T> {
    if (this.#exited) return Promise.reject(new Error(`instance ${this.index} has exited`))
    const seq = ++this.#seq
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(seq, { resolve: resolve as (value: unknown) => void, reject })
      this.#child.send({ ...command, seq })
    })
  }

  /** Asks the process to exit; kills it (by its own pid) if it has not after 5 s. */
  async stop(): Promise<void> {
    if (this.#exited) return
    const exited = new Promise<void>((resolve) => this.#child.once('exit', () => resolve()))
    this.call({ op: 'exit' }).catch(() => {})
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), 5000)
    await exited
    clearTimeout(timer)
  }
}

/** Spawns `count` instances and waits until each is ready (its module graph loaded). */
export async function startInstances(count: number): Promise<Instance[]> {
  const instances = Array.from({ length: count }, (_, i) => new Instance(i))
  await Promise.all(instances.map((instance) => instance.ready))
  return instances
}
