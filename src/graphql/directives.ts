import { getDirective, MapperKind, mapSchema } from '@graphql-tools/utils'
import {
  defaultFieldResolver,
  type GraphQLFieldConfig,
  type GraphQLFieldResolver,
  type GraphQLNamedType,
  type GraphQLSchema,
  getNamedType,
  isCompositeType,
  isObjectType,
} from 'graphql'
import { engineOf, type LoadCache } from '../cache/create-cache.js'
import { LoadCacheError } from '../core/errors.js'
import type { CacheId } from '../core/keys.js'
import { stableJson } from '../core/stable-json.js'
import { entityTag } from '../core/tags.js'
import { defineLoader, type LoaderDefinition } from '../loader/define-loader.js'
import { type CachePlan, type CacheScope, requestStateOf } from '../request/request-state.js'
import { collectEntityTags, defaultIdentity, type IdentityResolver } from './entity-tags.js'
import { parseTagTemplate, renderTagTemplate, type TagTemplate, TemplateError } from './tag-template.js'

/** Thrown at schema build time for a misused directive; the message names the field. */
export class LoadCacheSchemaError extends LoadCacheError {
  constructor(message: string) {
    super('E_INVALID_DIRECTIVE', message)
    this.name = 'LoadCacheSchemaError'
  }
}

export interface LoadCacheDirectivesOptions {
  /**
   * The cache the schema will run with. When given, a `ttl` above its `maxTtl` fails the schema build
   * (otherwise it fails on the first request that resolves the field). `useLoadCache` passes it.
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
}

/** The SDL of the directives (with the given names), to include in your type definitions. */
export function loadCacheDirectiveTypeDefs(options: LoadCacheDirectivesOptions = {}): string {
  const { cached, invalidates, scope } = names(options)
  return `enum ${scope} { PUBLIC PRIVATE }
directive @${cached}(ttl: Int!, tags: [String!] = [], scope: ${scope} = PUBLIC) on FIELD_DEFINITION | OBJECT
directive @${invalidates}(tags: [String!]!) on FIELD_DEFINITION
`
}

function names(options: LoadCacheDirectivesOptions) {
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
 *   PRIVATE) the viewer. `@cached` on an object type applies to every field that returns that type.
 * - Query root fields record whether they were cached, for `Cache-Control`.
 * - Mutation fields, once they succeed, evict the `Type:id` tags of the entities in their result (any depth)
 *   and the tags `@invalidates` declares.
 *
 * Every directive argument and tag template is checked here, so mistakes fail the schema build and name the
 * field. Without a loadcache request state in the context (see `useLoadCache`, `createLoadCacheContext`),
 * the wrapped resolvers behave exactly as the originals.
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
      checkObjectDirectives(schema, directive.cached)
      return mapSchema(schema, {
        [MapperKind.OBJECT_FIELD]: (fieldConfig, fieldName, typeName) =>
          wrapField(schema, fieldConfig, fieldName, typeName, directive, identity, identities, options.cache),
      })
    },
  }
}

interface DirectiveNames {
  readonly cached: string
  readonly invalidates: string
}

function wrapField(
  schema: GraphQLSchema,
  fieldConfig: GraphQLFieldConfig<unknown, unknown>,
  fieldName: string,
  typeName: string,
  directive: DirectiveNames,
  identity: IdentityResolver,
  identities: Record<string, unknown>,
  cache: LoadCache | undefined,
): GraphQLFieldConfig<unknown, unknown> {
  const coordinate = `${typeName}.${fieldName}`
  const parentType = schema.getType(typeName)!
  const field = isObjectType(parentType) ? parentType.getFields()[fieldName] : undefined
  if (field === undefined) return fieldConfig
  const isQuery = typeName === schema.getQueryType()?.name
  const isMutation = typeName === schema.getMutationType()?.name
  const isSubscription = typeName === schema.getSubscriptionType()?.name
  const original = (fieldConfig.resolve ?? defaultFieldResolver) as GraphQLFieldResolver<unknown, unknown>

  const fieldCached = getDirective(schema, fieldConfig, directive.cached)?.[0]
  const returnType = getNamedType(fieldConfig.type)
  const typeCached = fieldCached ? undefined : getDirective(schema, returnType, directive.cached)?.[0]
  const cachedArgs = fieldCached ?? typeCached
  const invalidatesArgs = getDirective(schema, fieldConfig, directive.invalidates)?.[0]
  const context = { coordinate, field, parentType: parentType as GraphQLNamedType }

  if (invalidatesArgs && !isMutation) {
    throw new LoadCacheSchemaError(
      `@${directive.invalidates} on ${coordinate}: only Mutation fields can invalidate`,
    )
  }

  let resolve = original
  if (cachedArgs && !isMutation && !isSubscription) {
    const where = fieldCached
      ? `@${directive.cached} on ${coordinate}`
      : `@${directive.cached} on ${returnType.name} (inherited by ${coordinate})`
    const { ttl, scope, tags } = cachedArguments(where, cachedArgs)
    if (
      !isQuery &&
      identities[typeName] === undefined &&
      !('id' in (parentType as { getFields(): object }).getFields())
    ) {
      throw new LoadCacheSchemaError(
        `${where}: ${typeName} has no id field, so its fields cannot be keyed; pass identity: { ${typeName}: (value) => … } to loadCacheDirectives`,
      )
    }
    const templates = parseTemplates(where, tags, { ...context, allowed: ['args', 'parent', 'result'] })
    const plan: CachePlan = {
      coordinate,
      ttl,
      scope,
      isRoot: isQuery,
      definition: defineLoader<string, { v: unknown }>({
        name: coordinate,
        ttl,
        // A background refresh would run the resolver after its request has ended: none for fields.
        grace: 0,
        earlyRefresh: false,
        fetch: () => {
          throw new LoadCacheError('E_MISUSE', `${coordinate} is loaded through the request state only`)
        },
      }),
    }
    if (cache !== undefined) {
      try {
        engineOf(cache).runtime(plan.definition as LoaderDefinition<CacheId, unknown>)
      } catch (error) {
        throw new LoadCacheSchemaError(`${where}: ${(error as Error).message.replace('[loadcache] ', '')}`)
      }
    }
    // A lookup by id (`post(id: 7): Post`) is tagged `Post:7` even when it found nothing, so the mutation
    // that creates post 7 evicts the cached "not found". Templates render lists as one tag per item.
    if (isObjectType(returnType)) {
      for (const arg of field.args) {
        if (arg.name === 'id' || arg.name === 'ids') {
          templates.push(
            parseTagTemplate(`${returnType.name}:{args.${arg.name}}`, { ...context, allowed: ['args'] }),
          )
        }
      }
    }
    resolve = cachedResolver(schema, plan, original, templates, identity, typeName, fieldConfig.type)
  } else if (cachedArgs && !typeCached) {
    throw new LoadCacheSchemaError(
      `@${directive.cached} on ${coordinate}: ${typeName} fields are never cached`,
    )
  } else if (!isQuery && !isMutation && !isSubscription && isCompositeType(returnType)) {
    // Apollo's rule: a field returning an object without a cache policy has max-age 0, so the response
    // cannot be cached by HTTP caches (it may hold data nobody declared cacheable).
    const inner = original
    resolve = (parent, args, ctx, info) => {
      const state = requestStateOf(ctx)
      if (state !== undefined) state.policy.uncachedComposite = true
      return inner(parent, args, ctx, info)
    }
  } else if (isQuery) {
    const inner = original
    resolve = (parent, args, ctx, info) => {
      requestStateOf(ctx)?.recordRoot(false)
      return inner(parent, args, ctx, info)
    }
  }

  if (isMutation) {
    const where = `@${directive.invalidates} on ${coordinate}`
    const declared = invalidatesArgs
      ? parseTemplates(where, tagList(where, invalidatesArgs.tags), {
          ...context,
          allowed: ['args', 'result'],
        })
      : []
    resolve = evictingResolver(schema, resolve, declared, identity, fieldConfig.type)
  }
  return resolve === original ? fieldConfig : { ...fieldConfig, resolve }
}

function cachedResolver(
  schema: GraphQLSchema,
  plan: CachePlan,
  original: GraphQLFieldResolver<unknown, unknown>,
  templates: readonly TagTemplate[],
  identity: IdentityResolver,
  typeName: string,
  type: GraphQLFieldConfig<unknown, unknown>['type'],
): GraphQLFieldResolver<unknown, unknown> {
  return (parent, args, ctx, info) => {
    const state = requestStateOf(ctx)
    if (state === undefined) return original(parent, args, ctx, info)
    let parentId: CacheId | null = null
    if (!plan.isRoot) {
      parentId =
        parent !== null && typeof parent === 'object'
          ? (identity(typeName, parent as Record<string, unknown>) ?? null)
          : null
    }
    // PRIVATE data is cached only under a viewer; a parent without identity cannot be keyed safely.
    const cacheable = (plan.scope === 'PUBLIC' || state.viewer !== null) && (plan.isRoot || parentId !== null)
    if (plan.isRoot) state.recordRoot(cacheable)
    if (plan.scope === 'PRIVATE') state.policy.private = true
    if (!cacheable) return original(parent, args, ctx, info)
    state.recordCached(plan)
    const key = stableJson([parentId, args, plan.scope === 'PRIVATE' ? state.viewer : null])
    return state.loadField(
      plan,
      key,
      () => original(parent, args, ctx, info),
      (value) => {
        const tags = new Set<string>()
        if (parentId !== null) tags.add(entityTag(typeName, parentId))
        collectEntityTags(schema, value, type, identity, tags)
        for (const template of templates) {
          for (const tag of renderTagTemplate(template, { args, parent, result: value })) tags.add(tag)
        }
        return [...tags]
      },
    )
  }
}

function evictingResolver(
  schema: GraphQLSchema,
  inner: GraphQLFieldResolver<unknown, unknown>,
  declared: readonly TagTemplate[],
  identity: IdentityResolver,
  type: GraphQLFieldConfig<unknown, unknown>['type'],
): GraphQLFieldResolver<unknown, unknown> {
  return async (parent, args, ctx, info) => {
    // A throw skips the eviction below: a failed mutation evicts nothing.
    const result = await inner(parent, args, ctx, info)
    const state = requestStateOf(ctx)
    if (state === undefined || result instanceof Error) return result
    const tags = collectEntityTags(schema, result, type, identity)
    for (const template of declared) {
      for (const tag of renderTagTemplate(template, { args, parent, result })) tags.add(tag)
    }
    if (tags.size > 0) await state.invalidateTags([...tags])
    return result
  }
}

function cachedArguments(
  where: string,
  args: Record<string, unknown>,
): { ttl: number; scope: CacheScope; tags: string[] } {
  const ttl = args.ttl
  if (typeof ttl !== 'number' || !Number.isInteger(ttl) || ttl <= 0) {
    throw new LoadCacheSchemaError(
      `${where}: ttl must be a positive integer (seconds), got ${JSON.stringify(ttl)}`,
    )
  }
  const scope = args.scope ?? 'PUBLIC'
  if (scope !== 'PUBLIC' && scope !== 'PRIVATE') {
    throw new LoadCacheSchemaError(`${where}: scope must be PUBLIC or PRIVATE, got ${JSON.stringify(scope)}`)
  }
  return { ttl, scope, tags: tagList(where, args.tags ?? []) }
}

function tagList(where: string, tags: unknown): string[] {
  if (!Array.isArray(tags) || tags.some((tag) => typeof tag !== 'string' || tag === '')) {
    throw new LoadCacheSchemaError(
      `${where}: tags must be a list of non-empty strings, got ${JSON.stringify(tags)}`,
    )
  }
  return tags
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

/** `@cached` on an object type is validated even when no field returns that type. */
function checkObjectDirectives(schema: GraphQLSchema, cached: string): void {
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type) || type.name.startsWith('__')) continue
    const args = getDirective(schema, type, cached)?.[0]
    if (args) cachedArguments(`@${cached} on ${type.name}`, args)
  }
}
