import { getDirective, MapperKind, mapSchema } from '@graphql-tools/utils'
import {
  defaultFieldResolver,
  type GraphQLField,
  type GraphQLFieldConfig,
  type GraphQLFieldResolver,
  type GraphQLNamedType,
  type GraphQLObjectType,
  type GraphQLOutputType,
  type GraphQLResolveInfo,
  type GraphQLSchema,
  getNamedType,
  getNullableType,
  isAbstractType,
  isCompositeType,
  isInterfaceType,
  isListType,
  isObjectType,
  isUnionType,
} from 'graphql'
import type { LoadCache } from '../cache/create-cache.js'
import { engineOf } from '../cache/create-cache.js'
import { describeValue } from '../core/errors.js'
import type { CacheId } from '../core/keys.js'
import type { Logger } from '../core/logger.js'
import { stableJson } from '../core/stable-json.js'
import { entityTag, typeTag } from '../core/tags.js'
import { plainObject, rejectUnknownOptions } from '../core/validate.js'
import { isAsyncIterable, isRereadable, mayResolveLater } from '../core/values.js'
import type { LoaderDefinition } from '../loader/define-loader.js'
import { buildFieldPlan, type CachePlan } from '../request/field-plan.js'
import { type PreparedValue, requestStateOf } from '../request/request-state.js'
import { type ApolloCacheControlOptions, apolloHints } from './apollo-cache-control.js'
import { type DynamicCacheHint, dynamicControlOf, withDynamicHints } from './dynamic-hints.js'
import {
  collectValueTags,
  defaultIdentity,
  type IdentityResolver,
  listItemTypes,
  listTypeTags,
  lookupTypeTags,
  runtimeType,
} from './entity-tags.js'
import {
  type CacheHint,
  cachedHint,
  combineHintSources,
  type FieldPolicy,
  fieldPolicy,
  type HintSources,
  LoadCacheSchemaError,
  tagList,
} from './field-policy.js'
import { trackerOf } from './operation.js'
import { type InvalidationHint, type LoadCachePolicies, policySources } from './policies.js'
import { parseTagTemplate, renderTagTemplate, type TagTemplate, TemplateError } from './tag-template.js'
import { completionError, listsAsArrays } from './value-check.js'

export { LoadCacheSchemaError } from './field-policy.js'

export interface LoadCacheDirectivesOptions {
  /**
   * The cache the schema will run with. When given, a `ttl` above its `maxTtl` fails the schema build
   * (otherwise it fails on the first request that resolves the field), and warnings go to its logger.
   * `useLoadCache` passes it.
   */
  cache?: LoadCache
  /** Name of the caching directive. Default `'cached'`. */
  cachedDirectiveName?: string
  /** Name of the eviction directive. Default `'invalidates'`. */
  invalidatesDirectiveName?: string
  /** Name of the scope enum. Default `'CacheScope'`. */
  scopeEnumName?: string
  /**
   * How objects of a type are identified (cache keys of fields on them, `Type:id` tags). Default: their
   * `id`. A type with no `id` field whose fields are `@cached` needs an entry here.
   */
  identity?: Record<string, (value: Record<string, unknown>) => CacheId | null | undefined>
  /**
   * Cache policies without SDL directives, for schemas built in code: by coordinate (`'Query.user':
   * { ttl: 60 }`, `'Mutation.createPost': { invalidates: { tags: ['posts'] } }`) or type name (`'Droid':
   * { ttl: 60, scope: 'PRIVATE' }`). Everything `@cached` and `@invalidates` do, with the same rules; they
   * combine with the directives, but one field or type hinted by both fails the build. Default: none.
   */
  policies?: LoadCachePolicies
  /**
   * Also read Apollo Server's `@cacheControl(maxAge, scope, inheritMaxAge)` hints, so a schema written for
   * Apollo is cached (and gets its `Cache-Control` headers) unchanged: `true`, or options such as
   * `{ defaultMaxAge: 0 }`. The schema keeps Apollo's own directive definitions. Default false. See
   * `apolloHints` for where loadcache's stricter rules differ.
   */
  apolloCacheControl?: boolean | ApolloCacheControlOptions
}

/** The SDL of the directives (with the given names), to include in your type definitions. */
export function loadCacheDirectiveTypeDefs(options: LoadCacheDirectivesOptions = {}): string {
  const { cached, invalidates, scope } = names(options)
  return `enum ${scope} { PUBLIC PRIVATE }
directive @${cached}(ttl: Int, tags: [String!] = [], scope: ${scope}) on FIELD_DEFINITION | OBJECT | INTERFACE | UNION
directive @${invalidates}(tags: [String!] = [], types: [String!], prime: Boolean = false) on FIELD_DEFINITION
`
}

/** Every option of the directives; TypeScript keeps the list complete. */
const DIRECTIVES_OPTIONS = Object.keys({
  cache: true,
  cachedDirectiveName: true,
  invalidatesDirectiveName: true,
  scopeEnumName: true,
  identity: true,
  policies: true,
  apolloCacheControl: true,
} satisfies Record<keyof LoadCacheDirectivesOptions, true>)

function names(options: LoadCacheDirectivesOptions) {
  rejectUnknownOptions('loadCacheDirectives', plainObject('options', options), DIRECTIVES_OPTIONS)
  return {
    cached: options.cachedDirectiveName ?? 'cached',
    invalidates: options.invalidatesDirectiveName ?? 'invalidates',
    scope: options.scopeEnumName ?? 'CacheScope',
  }
}

/**
 * The graphql-tools directive pattern: `{ typeDefs, transformer }`. The transformer wraps resolvers:
 *
 * - `@cached(ttl, tags, scope)` fields are loaded through the request's per-coordinate DataLoader and the
 *   shared cache, keyed by `Type.field`, the parent's identity, a stable hash of the arguments and (for
 *   PRIVATE) the viewer. `@cached` on a type applies to every field that returns it (see `fieldPolicy` for
 *   how field and type hints combine: the smaller TTL, PRIVATE wins).
 * - Every object field records the entity it runs on, so an operation knows every entity it produced.
 * - Mutation fields, once they succeed, evict the entities in their result (any depth, runtime types), the
 *   `Type` tag of the entities they return (so cached lists show a created entity) and the tags
 *   `@invalidates` declares; when the operation completes, every other entity it produced.
 *
 * Every directive argument and tag template is checked here, so mistakes fail the schema build and name the
 * field. Without a loadcache request state in the context (see `useLoadCache`, `createLoadCacheContext`),
 * the wrapped resolvers behave exactly as the originals, and the first of them to run warns (once per
 * transformed schema: to the cache's logger when `cache` is given, else as a Node process warning).
 *
 * @throws LoadCacheTypeError (`E_INVALID_OPTION`) for an unknown option; the transformer throws
 *   LoadCacheSchemaError naming the field for a misused directive, or a cached field whose coordinate is the
 *   name of a loader of `cache`.
 */
export function loadCacheDirectives(options: LoadCacheDirectivesOptions = {}): {
  typeDefs: string
  transformer: (schema: GraphQLSchema) => GraphQLSchema
} {
  const directive = names(options)
  const identities = options.identity ?? {}
  const identity: IdentityResolver = (typeName, value) => {
    const custom = identities[typeName]
    return custom ? custom(value) : defaultIdentity(typeName, value)
  }
  return {
    typeDefs: loadCacheDirectiveTypeDefs(options),
    transformer: (schema) => {
      const hasIdentity = (type: GraphQLObjectType) =>
        identities[type.name] !== undefined || 'id' in type.getFields()
      const listTagsByType = new Map<GraphQLOutputType, readonly string[]>()
      const sources = [directiveHints(schema, directive.cached)]
      const invalidations = [directiveInvalidations(schema, directive.invalidates)]
      if (options.policies !== undefined) {
        const policies = policySources(schema, options.policies)
        sources.push(policies.hints)
        invalidations.push(policies.invalidation)
      }
      if (options.apolloCacheControl !== undefined && options.apolloCacheControl !== false) {
        sources.push(apolloHints(schema, options.apolloCacheControl))
      }
      const hints = combineHintSources(sources)
      checkTypeHints(schema, hints)
      const context: BuildContext = {
        schema,
        directive,
        identity,
        hasIdentity,
        listTags: (list) => {
          let tags = listTagsByType.get(list)
          if (tags === undefined) {
            tags = listTypeTags(schema, list, hasIdentity)
            listTagsByType.set(list, tags)
          }
          return tags
        },
        hints,
        invalidation: (field, coordinate) => oneInvalidation(coordinate, invalidations, field),
        cache: options.cache,
        logger: options.cache ? engineOf(options.cache).options.logger : undefined,
        privateCoordinates: [],
        warnedWithoutState: false,
        warnedMutations: new Set(),
      }
      const transformed = mapSchema(schema, {
        [MapperKind.OBJECT_FIELD]: (fieldConfig, fieldName, typeName) =>
          wrapField(context, fieldConfig, fieldName, typeName),
      })
      privateCoordinates.set(transformed, context.privateCoordinates)
      return transformed
    },
  }
}

interface BuildContext {
  readonly schema: GraphQLSchema
  readonly directive: { readonly cached: string; readonly invalidates: string }
  readonly identity: IdentityResolver
  readonly hasIdentity: (type: GraphQLObjectType) => boolean
  /** The `Type` tags of a list type (memoized): see listTypeTags. */
  readonly listTags: (list: GraphQLOutputType) => readonly string[]
  readonly hints: HintSources
  /** What a field's `@invalidates` or policy asks for, if anything. */
  readonly invalidation: (
    field: GraphQLField<unknown, unknown>,
    coordinate: string,
  ) => InvalidationHint | undefined
  readonly cache: LoadCache | undefined
  readonly logger: Logger | undefined
  /** The `Type.field` of every field cached PRIVATE, filled while the schema is mapped. */
  readonly privateCoordinates: string[]
  /** Whether the schema already warned that it runs without a request state (once per transformed schema). */
  warnedWithoutState: boolean
  /** Mutation fields whose result could not be tagged completely, warned about once each. */
  readonly warnedMutations: Set<string>
}

const privateCoordinates = new WeakMap<GraphQLSchema, readonly string[]>()

/**
 * The coordinates of the fields a transformer cached with scope PRIVATE (empty for a schema it did not
 * transform): the yoga plugin warns when they can never be cached because it has no `viewer`.
 */
export function privateCoordinatesOf(schema: GraphQLSchema): readonly string[] {
  return privateCoordinates.get(schema) ?? []
}

/**
 * Warns, once per transformed schema, that a field loadcache wraps ran without its request state: nothing is
 * cached and mutations evict nothing, which looks exactly like working code. To the cache's logger when the
 * directives were given the cache; otherwise as a Node process warning (`process.on('warning')`).
 */
function warnWithoutState(build: BuildContext, coordinate: string, effect: string): void {
  if (build.warnedWithoutState) return
  build.warnedWithoutState = true
  const message = `[loadcache] ${coordinate} ran without loadcache's request state in the context, so ${effect}: add useLoadCache(...) to the yoga plugins, or (other servers) put createLoadCacheContext(cache, { viewer, loaders }) into each request's context (this warning is shown once)`
  if (build.logger !== undefined) build.logger.warn(message)
  else process.emitWarning(message, { type: 'LoadCacheWarning', code: 'LOADCACHE_NO_REQUEST_STATE' })
}

/** Reads `@cached` hints from the schema's directives. */
function directiveHints(schema: GraphQLSchema, cached: string): HintSources {
  return {
    fieldHint: (field, coordinate) => {
      const args = field.astNode ? getDirective(schema, field, cached)?.[0] : undefined
      return args ? cachedHint(`@${cached} on ${coordinate}`, args) : undefined
    },
    typeHint: (type) => {
      const args = getDirective(schema, type, cached)?.[0]
      return args ? cachedHint(`@${cached} on ${type.name}`, args) : undefined
    },
  }
}

/** Reads `@invalidates` from the schema's directives. */
function directiveInvalidations(
  schema: GraphQLSchema,
  invalidates: string,
): (coordinate: string, field: GraphQLField<unknown, unknown>) => InvalidationHint | undefined {
  return (coordinate, field) => {
    const args = getDirective(schema, field, invalidates)?.[0]
    return args
      ? {
          tags: args.tags ?? [],
          types: args.types,
          prime: args.prime,
          where: `@${invalidates} on ${coordinate}`,
        }
      : undefined
  }
}

/** @throws LoadCacheSchemaError naming the field when both `@invalidates` and a policy speak for it. */
function oneInvalidation(
  coordinate: string,
  sources: readonly ((
    coordinate: string,
    field: GraphQLField<unknown, unknown>,
  ) => InvalidationHint | undefined)[],
  field: GraphQLField<unknown, unknown>,
): InvalidationHint | undefined {
  const found = sources
    .map((source) => source(coordinate, field))
    .filter((hint): hint is InvalidationHint => hint !== undefined)
  if (found.length > 1) {
    throw new LoadCacheSchemaError(
      `${coordinate} has invalidations from two sources (${found.map((hint) => hint.where).join(' and ')}); keep one`,
    )
  }
  return found[0]
}

/** `@cached` on a type is validated even when no field returns that type. */
function checkTypeHints(schema: GraphQLSchema, hints: HintSources): void {
  for (const type of Object.values(schema.getTypeMap())) {
    if (type.name.startsWith('__')) continue
    if (isObjectType(type) || isInterfaceType(type) || isUnionType(type)) hints.typeHint(type)
  }
}

function wrapField(
  build: BuildContext,
  fieldConfig: GraphQLFieldConfig<unknown, unknown>,
  fieldName: string,
  typeName: string,
): GraphQLFieldConfig<unknown, unknown> {
  const { schema, directive, identity } = build
  const coordinate = `${typeName}.${fieldName}`
  const parentType = schema.getType(typeName)
  const field = isObjectType(parentType) ? parentType.getFields()[fieldName] : undefined
  if (field === undefined || !isObjectType(parentType)) return fieldConfig
  const operationType =
    typeName === schema.getQueryType()?.name
      ? 'query'
      : typeName === schema.getMutationType()?.name
        ? 'mutation'
        : typeName === schema.getSubscriptionType()?.name
          ? 'subscription'
          : undefined
  const original = (fieldConfig.resolve ?? defaultFieldResolver) as GraphQLFieldResolver<unknown, unknown>
  const ownHint = build.hints.fieldHint(field, coordinate)
  const invalidation = build.invalidation(field, coordinate)
  const templateContext = { coordinate, field, parentType: parentType as GraphQLNamedType }

  if (invalidation && operationType !== 'mutation') {
    throw new LoadCacheSchemaError(`${invalidation.where}: only Mutation fields can invalidate`)
  }
  if (ownHint && (operationType === 'mutation' || operationType === 'subscription')) {
    throw new LoadCacheSchemaError(`${ownHint.where}: ${typeName} fields are never cached`)
  }

  let resolve = original
  const policy =
    operationType === 'mutation' || operationType === 'subscription'
      ? undefined
      : fieldPolicy(schema, field, coordinate, build.hints)
  const isRoot = operationType === 'query'
  if (policy?.kind === 'cached') {
    resolve = cachedFieldResolver(build, policy, original, field, parentType, isRoot)
  } else if (policy?.kind === 'uncacheable') {
    resolve = uncacheableResolver(original, isRoot)
  } else if (policy?.kind === 'inherit') {
    if (policy.scope === 'PRIVATE') resolve = privateInheritingResolver(original)
  } else if (isRoot) {
    const inner = original
    resolve = (parent, args, ctx, info) => {
      requestStateOf(ctx)?.recordRoot(false)
      return inner(parent, args, ctx, info)
    }
  } else if (operationType === undefined && isCompositeType(getNamedType(field.type))) {
    // Apollo's rule: a field returning an object without a cache policy has max-age 0, so the response
    // cannot be cached by HTTP caches (it may hold data nobody declared cacheable).
    const inner = original
    resolve = (parent, args, ctx, info) => {
      const state = requestStateOf(ctx)
      if (state !== undefined) state.policy.uncachedComposite = true
      return inner(parent, args, ctx, info)
    }
  }

  if (operationType === 'mutation') {
    const where = invalidation?.where ?? `@${directive.invalidates} on ${coordinate}`
    const declared = invalidation
      ? parseTemplates(where, tagList(where, invalidation.tags ?? []), {
          ...templateContext,
          allowed: ['args', 'result'],
        })
      : []
    const types =
      invalidation?.types === undefined || invalidation.types === null
        ? undefined
        : listedTypes(schema, where, invalidation.types)
    const primed =
      invalidation?.prime === undefined ? undefined : primedLoader(build, where, invalidation.prime, field)
    resolve = evictingResolver(build, resolve, declared, types, field, primed)
  } else if (operationType === undefined) {
    resolve = trackingResolver(identity, resolve)
  }
  // Resolvers written for Apollo's cacheControl call info.cacheControl; default resolvers never do.
  if (fieldConfig.resolve !== undefined) {
    resolve = withDynamicHints(
      resolve,
      coordinate,
      staticHintOf(policy),
      (type) => dynamicHintOf(build.hints.typeHint(type)),
      build.logger === undefined ? undefined : (message) => build.logger?.warn(message),
    )
  }
  return resolve === original ? fieldConfig : { ...fieldConfig, resolve }
}

/** The resolver of a cached field: its plan (checked against the cache now) and tag templates. */
function cachedFieldResolver(
  build: BuildContext,
  policy: Extract<FieldPolicy, { kind: 'cached' }>,
  original: GraphQLFieldResolver<unknown, unknown>,
  field: GraphQLField<unknown, unknown>,
  parentType: GraphQLObjectType,
  isRoot: boolean,
): GraphQLFieldResolver<unknown, unknown> {
  const typeName = parentType.name
  const coordinate = `${typeName}.${field.name}`
  const templateContext = { coordinate, field, parentType: parentType as GraphQLNamedType }
  // A parent without identity cannot key the field; Apollo hints were written for schemas that never
  // needed ids, so theirs still count for Cache-Control (the field resolves uncached, see cachedResolver).
  if (!isRoot && !build.hasIdentity(parentType) && policy.unkeyable === 'refuse') {
    throw new LoadCacheSchemaError(
      `${policy.where}: ${typeName} has no id field, so its fields cannot be keyed; pass identity: { ${typeName}: (value) => … } to loadCacheDirectives`,
    )
  }
  const templates = policy.tags.flatMap(({ template, where }) =>
    parseTemplates(where, [template], { ...templateContext, allowed: ['args', 'parent', 'result'] }),
  )
  // A lookup by id (`post(id: 7): Post`) is tagged `Post:7` even when it found nothing, so the mutation
  // that creates post 7 evicts the cached "not found". Templates render lists as one tag per item.
  const returnType = getNamedType(field.type)
  if (isObjectType(returnType)) {
    for (const arg of field.args) {
      if (arg.name === 'id' || arg.name === 'ids') {
        templates.push(
          parseTagTemplate(`${returnType.name}:{args.${arg.name}}`, {
            ...templateContext,
            allowed: ['args'],
          }),
        )
      }
    }
  }
  let plan: CachePlan
  try {
    plan = buildFieldPlan({
      origin: 'graphql',
      coordinate,
      ttl: policy.ttl,
      scope: policy.scope,
      isRoot,
      cache: build.cache,
    })
  } catch (error) {
    throw new LoadCacheSchemaError(`${policy.where}: ${(error as Error).message.replace('[loadcache] ', '')}`)
  }
  if (policy.scope === 'PRIVATE') build.privateCoordinates.push(coordinate)
  return cachedResolver(build, plan, original, templates, field, typeName)
}

/** A field whose TTL is 0 (Apollo's `maxAge: 0`): not cached, and a response that resolves it is no-store. */
function uncacheableResolver(
  inner: GraphQLFieldResolver<unknown, unknown>,
  isRoot: boolean,
): GraphQLFieldResolver<unknown, unknown> {
  return (parent, args, ctx, info) => {
    const state = requestStateOf(ctx)
    if (state !== undefined) {
      if (isRoot) state.recordRoot(false)
      state.policy.uncacheableField = true
    }
    return inner(parent, args, ctx, info)
  }
}

/**
 * A PRIVATE field that inherits its max-age (Apollo's `inheritMaxAge` with `scope: PRIVATE`): not cached
 * itself, it makes the response private (no-store without a viewer, as every PRIVATE field), and what is
 * cached below it is keyed by viewer.
 */
function privateInheritingResolver(
  inner: GraphQLFieldResolver<unknown, unknown>,
): GraphQLFieldResolver<unknown, unknown> {
  return (parent, args, ctx, info) => {
    const state = requestStateOf(ctx)
    if (state !== undefined && info.operation.operation === 'query') {
      state.policy.private = true
      if (state.viewer === null) state.policy.uncachedPrivate = true
      trackerOf(state, info).markPrivate(info.path)
    }
    return inner(parent, args, ctx, info)
  }
}

/** Records the entity a field runs on (its parent, with the runtime type graphql-js resolved). */
function trackingResolver(
  identity: IdentityResolver,
  inner: GraphQLFieldResolver<unknown, unknown>,
): GraphQLFieldResolver<unknown, unknown> {
  return (parent, args, ctx, info) => {
    const state = requestStateOf(ctx)
    if (state !== undefined) trackerOf(state, info).saw(info.parentType.name, parent, identity)
    return inner(parent, args, ctx, info)
  }
}

function cachedResolver(
  build: BuildContext,
  plan: CachePlan,
  original: GraphQLFieldResolver<unknown, unknown>,
  templates: readonly TagTemplate[],
  field: GraphQLField<unknown, unknown>,
  typeName: string,
): GraphQLFieldResolver<unknown, unknown> {
  const { schema, identity } = build
  const listTags = listTypeTags(schema, field.type, build.hasIdentity)
  const lookupTags = lookupTypeTags(schema, field.type)
  return (parent, args, ctx, info) => {
    const state = requestStateOf(ctx)
    if (state === undefined) {
      warnWithoutState(build, plan.coordinate, 'nothing is cached')
      return original(parent, args, ctx, info)
    }
    // In a request that bypasses the cache (useLoadCache's `enabled`), the original resolver answers; such
    // a response is no-store, as nothing vouches for it.
    if (!state.enabled) return original(parent, args, ctx, info)
    // Only queries read or fill the cache: a mutation's selection must show what the mutation changed,
    // and its response is never cached anyway.
    if (info.operation.operation !== 'query') return original(parent, args, ctx, info)
    let parentId: CacheId | null = null
    if (!plan.isRoot) {
      parentId =
        parent !== null && typeof parent === 'object'
          ? (identity(typeName, parent as Record<string, unknown>) ?? null)
          : null
    }
    const tracker = trackerOf(state, info)
    // A PUBLIC field below a PRIVATE one is the viewer's too (see OperationTracker#underPrivate).
    const scope = plan.scope === 'PRIVATE' || tracker.underPrivate(info.path.prev) ? 'PRIVATE' : 'PUBLIC'
    if (scope === 'PRIVATE') tracker.markPrivate(info.path)
    // PRIVATE data is cached only under a viewer; a parent without identity cannot be keyed safely.
    let key: string | undefined
    if ((scope === 'PUBLIC' || state.viewer !== null) && (plan.isRoot || parentId !== null)) {
      try {
        key = stableJson([parentId, args, scope === 'PRIVATE' ? state.viewer : null])
      } catch {
        // Arguments a custom scalar parsed into something unkeyable: resolve without the cache.
      }
    }
    if (plan.isRoot) state.recordRoot(key !== undefined)
    state.recordPolicy(plan, key !== undefined, scope)
    if (!plan.isRoot) tracker.saw(typeName, parent, identity)
    if (key === undefined) return original(parent, args, ctx, info)
    tracker.resolvedAt(info.path, plan, key)
    const cacheKey = key
    // Taken now: a resolver that passes this info on to another one would have it replaced.
    const control = dynamicControlOf(info)
    control?.bind(cacheKey)
    const loaded = state.loadField(plan, cacheKey, {
      resolve: async () => listsAsArrays(field.type, await original(parent, args, ctx, info)),
      prepare: async (value): Promise<PreparedValue> => {
        // A value GraphQL still completes with code (promises, functions, getters, Proxies, class
        // instances) may still set a hint (info.cacheControl) after this: it is neither stored nor handed
        // to requests that joined this fill (see mayResolveLater).
        if (control !== undefined && !isAsyncIterable(value) && mayResolveLater(value)) {
          control.judged = true
          warnUnstorable(build, plan)
          return { store: false, shareable: false }
        }
        let prepared: PreparedValue
        try {
          prepared = await prepareValue(value)
        } catch {
          prepared = { store: false, shareable: true }
        }
        // What its resolver's hint said, read after prepareValue, which may run user code (isTypeOf,
        // resolveType) that sets one too: PRIVATE data under a key every viewer shares is neither stored nor
        // handed to the requests that joined this fill; a lower max-age goes with the value (0: not stored).
        if (control !== undefined) control.judged = true
        // (setCacheHint has marked the key PRIVATE already.)
        if (control?.hintScope === 'PRIVATE' && scope === 'PUBLIC') return { store: false, shareable: false }
        // Keyed PUBLIC when it started, but its path (or one above it) was made PRIVATE since: by a hint its
        // value's own promises set late, or one that reached another control on the same info (a resolver
        // that called another). The value may be that viewer's, so it stays theirs, on every path of its key.
        if (scope === 'PUBLIC' && tracker.underPrivate(info.path)) {
          tracker.markPrivateKey(plan.coordinate, cacheKey)
          return { store: false, shareable: false }
        }
        const hinted = control?.hintMaxAge
        if (hinted === 0) return { store: false, shareable: prepared.store || prepared.shareable, maxAge: 0 }
        return hinted !== undefined && hinted < plan.ttl ? { ...prepared, maxAge: hinted } : prepared
      },
    })
    // A value its resolver's hint made PRIVATE is the viewer's on every path of this request that reuses it
    // (a repeated key: list items, aliases; only the first path ran the resolver), so what is cached below
    // each of them is keyed by viewer too.
    return loaded.then((value) => {
      if (tracker.isPrivateKey(plan.coordinate, cacheKey)) tracker.markPrivate(info.path)
      return value
    })

    async function prepareValue(value: unknown): Promise<PreparedValue> {
      if (isAsyncIterable(value)) {
        warnOnce(build, plan, 'returns an async iterable (a @stream list, a generator): it is never cached')
        return { store: false, shareable: false }
      }
      // A value GraphQL would reject at this field: the error must not be replayed from the cache.
      if ((await completionError(field.type, value, ctx, info)) !== undefined) {
        return { store: false, shareable: true }
      }
      const walked = await collectValueTags(schema, value, field.type, identity, ctx, info, build.listTags)
      if (walked.readOnce) {
        warnOnce(build, plan, 'returns an object holding a generator for a list: it is never cached')
        return { store: false, shareable: false }
      }
      if (walked.incomplete !== undefined) {
        warnOnce(
          build,
          plan,
          `its value cannot be tagged completely (${walked.incomplete}), so it is not cached`,
        )
        return { store: false, shareable: true }
      }
      const tags = walked.tags
      if (parentId !== null) tags.add(entityTag(typeName, parentId))
      for (const tag of listTags) tags.add(tag)
      if (value === null || value === undefined) for (const tag of lookupTags) tags.add(tag)
      for (const template of templates) {
        for (const tag of renderTagTemplate(template, { args, parent, result: value })) tags.add(tag)
      }
      tracker.filled(plan, cacheKey, tags, walked.reachable)
      return { store: true, tags: [...tags] }
    }
  }
}

/** The static hint a field's policy gives, as `info.cacheControl.cacheHint` starts out. */
function staticHintOf(policy: FieldPolicy | undefined): DynamicCacheHint {
  if (policy?.kind === 'cached') return { maxAge: policy.ttl, scope: policy.scope }
  if (policy?.kind === 'uncacheable') return { maxAge: 0 }
  if (policy?.kind === 'inherit') return { scope: policy.scope }
  return {}
}

/** A type's hint as Apollo's `cacheHintFromType` gives it. */
function dynamicHintOf(hint: CacheHint | undefined): DynamicCacheHint {
  return {
    ...(hint?.ttl === undefined ? {} : { maxAge: hint.ttl }),
    ...(hint?.scope === undefined ? {} : { scope: hint.scope }),
  }
}

/**
 * The loader `@invalidates(prime: true)` writes what the mutation returned through: the one loader of the
 * cache whose `entity` is the field's return type.
 *
 * @throws LoadCacheSchemaError naming the field when `prime` is not a boolean, the field does not return an
 *   object type with an identity (or a list of one), there is no cache, or not exactly one loader of it has
 *   that entity.
 */
function primedLoader(
  build: BuildContext,
  where: string,
  prime: unknown,
  field: GraphQLField<unknown, unknown>,
): { loader: LoaderDefinition<CacheId, unknown>; type: GraphQLObjectType } | undefined {
  if (typeof prime !== 'boolean') {
    throw new LoadCacheSchemaError(`${where}: prime must be true or false, got ${describeValue(prime)}`)
  }
  if (!prime) return undefined
  const type = getNamedType(field.type)
  if (!isObjectType(type) || !build.hasIdentity(type)) {
    throw new LoadCacheSchemaError(
      `${where}: prime stores what the mutation returns as a loader's value, so the field must return an object type with an id (or a list of one), not ${String(field.type)}`,
    )
  }
  if (build.cache === undefined) {
    throw new LoadCacheSchemaError(
      `${where}: prime needs the cache: pass loadCacheDirectives({ cache }) (useLoadCache does it for you)`,
    )
  }
  const loaders = engineOf(build.cache).loadersOfEntity(type.name)
  if (loaders.length !== 1) {
    throw new LoadCacheSchemaError(
      loaders.length === 0
        ? `${where}: prime needs a loader with entity: '${type.name}' known to the cache before the schema is built: pass it to useLoadCache({ loaders }), or call cache.loaders({ ... }) with it at startup`
        : `${where}: prime needs one loader with entity: '${type.name}', and the cache has ${loaders.length} (${loaders.map((loader) => loader.name).join(', ')})`,
    )
  }
  return { loader: loaders[0]!, type }
}

function evictingResolver(
  build: BuildContext,
  inner: GraphQLFieldResolver<unknown, unknown>,
  declared: readonly TagTemplate[],
  types: readonly string[] | undefined,
  field: GraphQLField<unknown, unknown>,
  primed: { loader: LoaderDefinition<CacheId, unknown>; type: GraphQLObjectType } | undefined,
): GraphQLFieldResolver<unknown, unknown> {
  const { schema, identity } = build
  return async (parent, args, ctx, info) => {
    // Priming: the ticket is taken before the mutation writes (see LoadCache.prime).
    const ticket = primed === undefined ? undefined : await requestStateOf(ctx)?.cache.writeTicket()
    // A throw skips the eviction below: a failed mutation evicts nothing.
    const returned = await inner(parent, args, ctx, info)
    // Its lists read once, before the walk below reads them (a generator would reach GraphQL used up).
    let result: unknown
    let readFailed = false
    let readError: unknown
    try {
      result = listsAsArrays(field.type, returned)
    } catch (error) {
      // The list threw while read: GraphQL reports it, but the mutation has written, so what it declared
      // is still evicted (its result is unknown).
      readFailed = true
      readError = error
    }
    const state = requestStateOf(ctx)
    if (state === undefined) {
      warnWithoutState(build, `${info.parentType.name}.${info.fieldName}`, 'mutations evict nothing')
      if (readFailed) throw readError
      return result
    }
    if (result instanceof Error) return result
    const tracker = trackerOf(state, info)
    // Whole, not bounded as a cached value is: a tag left out here is an eviction missed. Visiting each
    // object once bounds the walk by the result's size; the depth bound only stops a runaway chain (and
    // the recursion).
    const walked = await collectValueTags(schema, result, field.type, identity, ctx, info, undefined, {
      maxDepth: MUTATION_MAX_DEPTH,
      maxObjects: Number.POSITIVE_INFINITY,
      reachable: false,
    })
    const coordinate = `${info.parentType.name}.${info.fieldName}`
    if (walked.incomplete !== undefined && !build.warnedMutations.has(coordinate)) {
      build.warnedMutations.add(coordinate)
      build.logger?.warn(
        `[loadcache] ${coordinate}: its result cannot be tagged completely (${walked.incomplete}), so the entities beyond that are evicted only if the client selected them (this warning is shown once)`,
      )
    }
    const tags = walked.tags
    if (primed !== undefined) {
      // What the mutation returned becomes the loader's value.
      const entries = returnedEntities(result, primed.type, identity)
      if (entries.length > 0) await state.prime(primed.loader, entries, ticket)
    }
    // A returned entity that was primed (here, or by the resolver itself with cache.prime) had its entity
    // tag evicted by the prime; evicting it again would discard the primed value.
    const returnedType = getNamedType(field.type)
    if (isObjectType(returnedType)) {
      const engine = engineOf(state.cache)
      for (const [id, value] of returnedEntities(result, returnedType, identity)) {
        if (!engine.wasPrimed(value)) continue
        const tag = entityTag(returnedType.name, id)
        tags.delete(tag)
        tracker.evicted.add(tag)
      }
    }
    // A created entity must show in every cached list of its type: evict the `Type` tag of what the
    // mutation returned (or of the types @invalidates names).
    // (A result that threw while read: every type it could have held.)
    const returnedTypeNames =
      types ??
      (readFailed
        ? listItemTypes(schema, field.type, build.hasIdentity)
        : await returnedTypes(build, result, field.type, ctx, info))
    for (const type of returnedTypeNames) tags.add(typeTag(type))
    for (const template of declared) {
      for (const tag of renderTagTemplate(template, { args, parent, result })) tags.add(tag)
    }
    const fresh = [...tags].filter((tag) => !tracker.evicted.has(tag))
    for (const tag of fresh) tracker.evicted.add(tag)
    if (fresh.length > 0) await state.invalidateTags(fresh)
    if (readFailed) throw readError
    return result
  }
}

/** The `[id, value]` of each object a field returned directly (or in a list), for priming. */
function returnedEntities(
  result: unknown,
  type: GraphQLObjectType,
  identity: IdentityResolver,
): [CacheId, unknown][] {
  const values = Array.isArray(result) ? result : [result]
  const entries: [CacheId, unknown][] = []
  for (const value of values) {
    if (value === null || typeof value !== 'object') continue
    const id = identity(type.name, value as Record<string, unknown>)
    if (id !== null && id !== undefined) entries.push([id, value])
  }
  return entries
}

/**
 * The runtime object types of the entities a field returned (through lists, and through wrappers without
 * an identity such as a mutation payload `{ post: Post! }`), not of entities nested in those entities.
 */
async function returnedTypes(
  build: BuildContext,
  value: unknown,
  type: GraphQLOutputType,
  context: unknown,
  info: GraphQLResolveInfo,
): Promise<Set<string>> {
  const types = new Set<string>()
  const visit = async (member: unknown, memberType: GraphQLOutputType, depth: number): Promise<void> => {
    if (member === null || typeof member !== 'object' || depth > 8) return
    const nullable = getNullableType(memberType)
    if (isListType(nullable)) {
      if (typeof (member as Iterable<unknown>)[Symbol.iterator] !== 'function') return
      // A list that can be read once is left to GraphQL: whatever it can hold was returned.
      if (!isRereadable(member)) {
        for (const name of listItemTypes(build.schema, nullable, build.hasIdentity)) types.add(name)
        return
      }
      for (const item of member as Iterable<unknown>) await visit(item, nullable.ofType, depth + 1)
      return
    }
    const object = isObjectType(nullable)
      ? nullable
      : isAbstractType(nullable)
        ? await runtimeType(build.schema, member, nullable, context, info)
        : undefined
    if (object === undefined) return
    if (build.hasIdentity(object)) {
      types.add(object.name)
      return
    }
    // A payload or an edge: what it wraps is what was returned.
    for (const [name, field] of Object.entries(object.getFields())) {
      await visit((member as Record<string, unknown>)[name], field.type, depth + 1)
    }
  }
  await visit(value, type, 0)
  return types
}

function listedTypes(schema: GraphQLSchema, where: string, types: unknown): string[] {
  const list = tagList(`${where}: types`, types)
  for (const name of list) {
    const type = schema.getType(name)
    if (!isObjectType(type) && !isAbstractType(type)) {
      throw new LoadCacheSchemaError(
        `${where}: types names "${name}", which is not an object, interface or union type`,
      )
    }
  }
  return list.flatMap((name) => {
    const type = schema.getType(name)!
    return isAbstractType(type) ? schema.getPossibleTypes(type).map((object) => object.name) : [name]
  })
}

function parseTemplates(
  where: string,
  tags: readonly string[],
  context: Parameters<typeof parseTagTemplate>[1],
): TagTemplate[] {
  try {
    return tags.map((tag) => parseTagTemplate(tag, context))
  } catch (error) {
    if (error instanceof TemplateError) throw new LoadCacheSchemaError(`${where}: ${error.message}`)
    throw error
  }
}

/** Levels walked in a mutation's result (see evictingResolver). */
const MUTATION_MAX_DEPTH = 1_000

const warned = new WeakSet<CachePlan>()

const warnedUnstorable = new WeakSet<CachePlan>()

/** Said once per field, in the words the engine uses for a value its serializer refuses. */
function warnUnstorable(build: BuildContext, plan: CachePlan): void {
  if (warnedUnstorable.has(plan)) return
  warnedUnstorable.add(plan)
  build.logger?.warn(
    `[loadcache] loader "${plan.coordinate}": a value is returned but not cached: it holds what GraphQL completes by running code (a promise, a function, a getter, a Proxy or a class instance), which could still set a cache hint, so it is neither stored nor shared with concurrent requests. Return plain data (this warning is shown once per loader).`,
  )
}

function warnOnce(build: BuildContext, plan: CachePlan, message: string): void {
  if (warned.has(plan)) return
  warned.add(plan)
  build.logger?.warn(`[loadcache] ${plan.coordinate}: ${message} (this warning is shown once)`)
}

export type { CacheHint }
