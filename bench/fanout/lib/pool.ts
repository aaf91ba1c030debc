/**
 * The fleet: one long-lived process per instance (`node --import tsx bench/fanout/worker.ts`), reused
 * across measurements. A process opens one cache at a time, of either design, so the processes are spawned
 * once per run (16 of them) instead of once per measurement; an idle one has no cache, hence no bus
 * subscription and no Redis connection, and costs nothing while others are measured.
 */
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ChildProcessHarness } from '../../../test/helpers/child-process.js'
import type { Command } from './protocol.js'

const fanoutDir = join(dirname(fileURLToPath(import.meta.url)), '..')
const workerPath = join(fanoutDir, 'worker.ts')
export const repoRoot = join(fanoutDir, '..', '..')

/** One instance of the fleet, over the harness the tests use (test/helpers/child-process.ts). */
export class Instance {
  readonly index: number
  readonly ready: Promise<unknown>
  readonly #child: ChildProcessHarness

  constructor(index: number) {
    this.index = index
    this.#child = new ChildProcessHarness(workerPath, {
      cwd: repoRoot,
      label: `instance ${index}`,
      keepOutput: 10_000,
    })
    this.ready = this.#child.ready
  }

  get pid(): number | undefined {
    return this.#child.pid
  }

  call<T>(command: Command): Promise<T> {
    return this.#child.call<T>(command)
  }

  /** Asks the process to exit; kills it (by its own pid) if it has not after 5 s. */
  async stop(): Promise<void> {
    this.call({ op: 'exit' }).catch(() => {})
    const timer = setTimeout(() => void this.#child.kill(), 5000)
    await this.#child.exited
    clearTimeout(timer)
  }
}

/** Spawns `count` instances and waits until each is ready (its module graph loaded). */
export async function startInstances(count: number): Promise<Instance[]> {
  const instances = Array.from({ length: count }, (_, i) => new Instance(i))
  await Promise.all(instances.map((instance) => instance.ready))
  return instances
}
