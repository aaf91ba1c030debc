export { type UseLoadCacheOptions, useLoadCache } from './use-load-cache.js'
