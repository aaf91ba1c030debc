import type { GraphQLError, GraphQLResolveInfo } from 'graphql'
import type { Logger } from '../core/logger.js'
import { entityTag } from '../core/tags.js'
import type { CachePlan } from '../request/field-plan.js'
import { type RequestCacheState, requestStateOf } from '../request/request-state.js'
import type { IdentityResolver } from './entity-tags.js'

type ResponsePath = GraphQLResolveInfo['path']

/** A value this operation stored under a field's entry, to be checked once the operation is complete. */
interface Fill {
  readonly plan: CachePlan
  readonly key: string
  readonly tags: ReadonlySet<string>
  /** Every object reachable from the stored value. */
  readonly reachable: ReadonlySet<object>
}

/**
 * What one GraphQL operation produced, gathered while it executes:
 *
 * - every entity any resolver produced, at any depth, with its runtime type (`info.parentType` of the fields
 *   executed on it) and whether or not the client selected its `id` or `__typename`: a mutation evicts them
 *   all, and the response tier tags the response with them;
 * - the values this operation stored under field entries, checked when it completes: an entry whose value
 *   led to an error, or that holds an entity its tags miss (found under a property the schema does not
 *   name), is evicted, so neither is served for its TTL.
 */
export class OperationTracker {
  readonly isMutation: boolean
  /** `Type:id` of every entity the operation produced. */
  readonly entities = new Set<string>()
  /** Tags already evicted by the mutation fields themselves. */
  readonly evicted = new Set<string>()
  readonly #objectTags = new Map<object, string>()
  readonly #seen = new WeakSet<object>()
  readonly #fills: Fill[] = []
  readonly #cachedAt: { path: ResponsePath; plan: CachePlan; key: string }[] = []
  #privatePaths: WeakSet<object> = EMPTY
  /** `coordinate\0key` of the cached values a dynamic hint made PRIVATE (see markPrivateKey). */
  readonly #privateKeys = new Set<string>()
  #collecting: boolean

  constructor(isMutation: boolean, collecting: boolean) {
    this.isMutation = isMutation
    this.#collecting = isMutation || collecting
  }

  /** Records the entity a field executed on (its parent), once per object. */
  saw(typeName: string, parent: unknown, identity: IdentityResolver): void {
    if (!this.#collecting || parent === null || typeof parent !== 'object' || this.#seen.has(parent)) return
    this.#seen.add(parent)
    const id = identity(typeName, parent as Record<string, unknown>)
    if (id === null || id === undefined || id === '') return
    const tag = entityTag(typeName, id)
    this.entities.add(tag)
    this.#objectTags.set(parent, tag)
  }

  /** Marks where a PRIVATE field resolved: everything below it is the viewer's too (see underPrivate). */
  markPrivate(path: ResponsePath): void {
    if (this.#privatePaths === EMPTY) this.#privatePaths = new WeakSet()
    this.#privatePaths.add(path)
  }

  /**
   * Whether a field at `path` runs below a PRIVATE field. Its parent then came from data made for one
   * viewer (`me` returns the viewer's own user, with what only they may see), so its value may hold that
   * data too, whatever its own scope: it must be keyed by viewer like the field above it.
   */
  underPrivate(path: ResponsePath | undefined): boolean {
    if (this.#privatePaths === EMPTY) return false
    for (let node = path; node !== undefined; node = node.prev) {
      if (this.#privatePaths.has(node)) return true
    }
    return false
  }

  /**
   * Makes the value of a cached field's key PRIVATE for this request: every path where it was resolved so
   * far is marked, and a path that resolves it later asks `isPrivateKey` once it has its value.
   */
  markPrivateKey(coordinate: string, key: string): void {
    this.#privateKeys.add(`${coordinate}\u0000${key}`)
    for (const resolved of this.#cachedAt) {
      if (resolved.key === key && resolved.plan.coordinate === coordinate) this.markPrivate(resolved.path)
    }
  }

  /** Whether markPrivateKey made this key's value PRIVATE in this request. */
  isPrivateKey(coordinate: string, key: string): boolean {
    return this.#privateKeys.size > 0 && this.#privateKeys.has(`${coordinate}\u0000${key}`)
  }

  /** Records where a cached field was resolved, for matching errors to the entries they came from. */
  resolvedAt(path: ResponsePath, plan: CachePlan, key: string): void {
    this.#cachedAt.push({ path, plan, key })
  }

  /** Records a value stored under a field's entry; from now on, executed entities are collected. */
  filled(plan: CachePlan, key: string, tags: ReadonlySet<string>, reachable: ReadonlySet<object>): void {
    this.#fills.push({ plan, key, tags, reachable })
    this.#collecting = true
  }

  /** Entries this operation filled that must not stay: their value led to an error, or is under-tagged. */
  entriesToEvict(errors: readonly GraphQLError[] | undefined, logger: Logger): Map<CachePlan, Set<string>> {
    const evict = new Map<CachePlan, Set<string>>()
    if (this.#fills.length === 0) return evict
    const add = (plan: CachePlan, key: string) => {
      let keys = evict.get(plan)
      if (keys === undefined) {
        keys = new Set()
        evict.set(plan, keys)
      }
      keys.add(key)
    }
    const filled = new Set(this.#fills.map((fill) => fillId(fill.plan, fill.key)))
    if (errors !== undefined && errors.length > 0) {
      const errorPaths = errors.flatMap((error) => (error.path ? [error.path.join('.')] : []))
      for (const { path, plan, key } of this.#cachedAt) {
        if (!filled.has(fillId(plan, key))) continue
        const prefix = pathString(path)
        if (errorPaths.some((errorPath) => errorPath === prefix || errorPath.startsWith(`${prefix}.`))) {
          add(plan, key)
        }
      }
    }
    // Which fills hold each object, so the check costs the size of the stored values, not fills × objects.
    const holders = new Map<object, Fill[]>()
    for (const fill of this.#fills) {
      for (const object of fill.reachable) {
        const list = holders.get(object)
        if (list === undefined) holders.set(object, [fill])
        else list.push(fill)
      }
    }
    for (const [object, tag] of this.#objectTags) {
      for (const fill of holders.get(object) ?? []) {
        if (fill.tags.has(tag)) continue
        add(fill.plan, fill.key)
        warnUnderTagged(fill.plan, tag, logger)
      }
    }
    return evict
  }
}

/** Shared by every tracker that has seen no PRIVATE field (the common case): nothing to walk up for. */
const EMPTY: WeakSet<object> = new WeakSet()

const trackers = new WeakMap<RequestCacheState, OperationTracker>()

/** `Type:id` of every entity the operation of this request state produced (when it collected them). */
export function producedEntities(state: RequestCacheState): ReadonlySet<string> {
  return trackers.get(state)?.entities ?? new Set()
}

/** The tracker of the operation a resolver runs in, created by its first resolver. */
export function trackerOf(state: RequestCacheState, info: GraphQLResolveInfo): OperationTracker {
  let tracker = trackers.get(state)
  if (tracker === undefined) {
    tracker = new OperationTracker(info.operation.operation === 'mutation', state.collectEntities)
    trackers.set(state, tracker)
  }
  return tracker
}

/**
 * Completes an operation's cache work; the yoga plugin calls it when execution is done, before the
 * response is sent. Other servers call it with the context and result of every operation they execute:
 *
 * - a mutation evicts every entity its execution produced (beyond those its fields evicted at once);
 * - entries this operation filled whose value led to an error, or that miss an entity found inside them,
 *   are evicted.
 *
 * Never rejects (an eviction that cannot reach Redis is queued by the cache).
 */
export async function finishOperation(
  context: unknown,
  result: { readonly errors?: readonly GraphQLError[] | undefined } | undefined,
  logger?: Logger,
): Promise<void> {
  const state = requestStateOf(context)
  const tracker = state === undefined ? undefined : trackers.get(state)
  if (state === undefined || tracker === undefined) return
  try {
    if (tracker.isMutation) {
      const remaining = [...tracker.entities].filter((tag) => !tracker.evicted.has(tag))
      if (remaining.length > 0) {
        for (const tag of remaining) tracker.evicted.add(tag)
        await state.invalidateTags(remaining)
      }
    }
    const evict = tracker.entriesToEvict(result?.errors, logger ?? silent)
    await Promise.all([...evict].map(([plan, keys]) => state.evictFields(plan, [...keys])))
  } catch (error) {
    ;(logger ?? silent).error(`[loadcache] completing an operation failed: ${(error as Error)?.message}`)
  }
}

const silent: Logger = { warn() {}, error() {} }
const warnedCoordinates = new WeakSet<CachePlan>()

function warnUnderTagged(plan: CachePlan, tag: string, logger: Logger): void {
  if (warnedCoordinates.has(plan)) return
  warnedCoordinates.add(plan)
  logger.warn(
    `[loadcache] ${plan.coordinate}: its value holds the entity ${tag} where the schema walk could not see it (a child resolver read it from a property the schema does not name), so its entries cannot be evicted with that entity and are not kept. Return values shaped like the schema, or resolve that child through a loader (this warning is shown once).`,
  )
}

function fillId(plan: CachePlan, key: string): string {
  return `${plan.coordinate}\u0000${key}`
}

function pathString(path: ResponsePath): string {
  const parts: (string | number)[] = []
  for (let node: ResponsePath | undefined = path; node !== undefined; node = node.prev) parts.push(node.key)
  return parts.reverse().join('.')
}
