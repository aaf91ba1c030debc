import { groupBySlot } from './key-slot.js'

/**
 * Entries one script may touch. A read or write of 200 entries with a few tags each runs in about a
 * millisecond, so no script holds Redis (single-threaded: every other client waits behind it) for more than
 * a few: a batch of 100,000 ids becomes 500 scripts, and other processes' commands run between them.
 */
export const MAX_KEYS_PER_SCRIPT = 200

/** Tags one invalidation script may bump (each is a GET/SET pair: cheaper than an entry). */
export const MAX_TAGS_PER_SCRIPT = 500

/** Scripts of one batch in flight at once: enough to fill the pipe, few enough that each one's timeout means something. */
export const SCRIPTS_IN_FLIGHT = 4

/**
 * Entries one batch may have in scripts in flight: 4 full scripts. On Redis Cluster a batch is one script
 * per slot, mostly of a key or two, so the bound is in keys, not scripts: a batch of 100 ids over 100 slots
 * goes out in one round, not in 25 rounds of 4.
 */
export const KEYS_IN_FLIGHT = SCRIPTS_IN_FLIGHT * MAX_KEYS_PER_SCRIPT

/** Scripts of one batch in flight at once however small they are (ioredis spreads them over the nodes). */
export const MAX_SCRIPTS_IN_FLIGHT = 64

/**
 * Splits positions `0 … keys.length - 1` into groups a script may take together: by Redis Cluster slot
 * (a script may only touch one slot), then into runs of at most `max`.
 */
export function scriptGroups(
  keys: readonly string[],
  cluster: boolean,
  max = MAX_KEYS_PER_SCRIPT,
): number[][] {
  const bySlot = cluster ? [...groupBySlot(keys).values()] : [keys.map((_, i) => i)]
  const groups: number[][] = []
  for (const slot of bySlot) {
    for (let start = 0; start < slot.length; start += max) groups.push(slot.slice(start, start + max))
  }
  return groups
}

/**
 * Runs `run` for every group with at most `inFlight` at once, and returns their results in group order.
 * Rejects with the first failure, after every started run has settled (so a caller releasing locks after a
 * failure knows no script of the batch is still on its way).
 */
export async function runLimited<T, R>(
  groups: readonly T[],
  run: (group: T) => Promise<R>,
  inFlight = SCRIPTS_IN_FLIGHT,
): Promise<R[]> {
  const results: R[] = new Array(groups.length)
  let next = 0
  let failure: { error: unknown } | undefined
  const worker = async () => {
    while (failure === undefined && next < groups.length) {
      const index = next++
      try {
        results[index] = await run(groups[index]!)
      } catch (error) {
        failure ??= { error }
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(inFlight, groups.length) }, worker))
  if (failure !== undefined) throw failure.error
  return results
}

export function pick<T>(items: readonly T[], indices: readonly number[]): T[] {
  return indices.map((index) => items[index]!)
}

/**
 * Runs one script per group of entry positions (from `scriptGroups`), with at most KEYS_IN_FLIGHT entries
 * and MAX_SCRIPTS_IN_FLIGHT scripts in flight (a group bigger than the budget runs alone), and returns their
 * results in group order. Rejects with the first failure, once every started script has settled.
 */
export function runScripts<R>(
  groups: readonly (readonly number[])[],
  run: (group: number[]) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(groups.length)
  if (groups.length === 0) return Promise.resolve(results)
  return new Promise((resolve, reject) => {
    let next = 0
    let scripts = 0
    let keys = 0
    let failure: { error: unknown } | undefined
    const pump = (): void => {
      while (
        failure === undefined &&
        next < groups.length &&
        scripts < MAX_SCRIPTS_IN_FLIGHT &&
        (scripts === 0 || keys + groups[next]!.length <= KEYS_IN_FLIGHT)
      ) {
        const index = next++
        const group = groups[index]!
        scripts++
        keys += group.length
        run([...group])
          .then(
            (result) => {
              results[index] = result
            },
            (error: unknown) => {
              failure ??= { error }
            },
          )
          .finally(() => {
            scripts--
            keys -= group.length
            if (scripts > 0) return pump()
            if (failure !== undefined) reject(failure.error)
            else if (next >= groups.length) resolve(results)
            else pump()
          })
      }
    }
    pump()
  })
}
