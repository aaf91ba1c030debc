export {
  type CachedOptions,
  createLoadCacheTRPC,
  type InvalidatesOptions,
  type LoadCacheTRPCOptions,
} from './load-cache-trpc.js'
