export { cacheControlFor, combineCacheControl, type OperationFacts } from './cache-control.js'
export {
  type LoadCacheDirectivesOptions,
  LoadCacheSchemaError,
  loadCacheDirectives,
  loadCacheDirectiveTypeDefs,
} from './directives.js'
export { collectEntityTags, entityTag, type IdentityResolver } from './entity-tags.js'
export {
  type CachePolicySummary,
  type CacheScope,
  createLoadCacheContext,
  RequestCacheState,
  requestStateOf,
} from './request-state.js'
