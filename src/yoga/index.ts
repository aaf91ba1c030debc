export type { ResponseCacheOptions } from './response-hooks.js'
export { type UseLoadCacheOptions, useLoadCache } from './use-load-cache.js'
