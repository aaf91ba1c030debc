export { type CachedOptions, createLoadCacheTRPC, type InvalidatesOptions } from './load-cache-trpc.js'
