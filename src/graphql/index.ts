export { entityTag, typeTag } from '../core/tags.js'
export { cacheControlFor, combineCacheControl, type OperationFacts } from '../request/cache-control.js'
export {
  type CachePolicySummary,
  type CacheScope,
  createLoadCacheContext,
  type LoadCacheContext,
  type LoadCacheDebug,
  RequestCacheState,
  requestStateOf,
} from '../request/request-state.js'
export type { ApolloCacheControlOptions } from './apollo-cache-control.js'
export {
  type LoadCacheDirectivesOptions,
  LoadCacheSchemaError,
  loadCacheDirectives,
  loadCacheDirectiveTypeDefs,
} from './directives.js'
export type { DynamicCacheControl, DynamicCacheHint, FieldCacheHint } from './dynamic-hints.js'
export { collectValueTags, type IdentityResolver } from './entity-tags.js'
export { finishOperation } from './operation.js'
export type { CachedPolicy, InvalidatesPolicy, LoadCachePolicies, LoadCachePolicy } from './policies.js'
