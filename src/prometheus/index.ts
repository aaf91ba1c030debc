export {
  DEFAULT_BATCH_SIZE_BUCKETS,
  DEFAULT_FETCH_DURATION_BUCKETS,
  DEFAULT_REDIS_DURATION_BUCKETS,
  type LoadCacheMetricsOptions,
  registerLoadCacheMetrics,
} from './register-metrics.js'
