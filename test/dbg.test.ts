import { it } from 'vitest'
import { openDatabase } from '../example-api/db/index.js'
import { startApi } from './example-api/api-harness.js'
import { startRedisServer } from './helpers/redis-server.js'

it('dbg', async () => {
  const db = await openDatabase()
  const redis = await startRedisServer()
  const api = await startApi(db, { kind: 'redis', url: redis.url })
  api.cache.on('redisError', (e, op) => console.log('ERR', op, String(e)))
  for (const q of ['{ posts(first: 50) { title author { name } comments { author { name } } } }']) {
    const r = await api.yoga.fetch('http://x/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: q }),
    })
    console.log(r.headers.get('cache-status'))
  }
  console.log('REDIS', JSON.stringify(api.cache.stats().redis))
  api.cache.on('redisError', (e, op) => console.log('ERR', op, String(e)))
  const s = api.cache.stats().loaders
  for (const [k, v] of Object.entries(s)) console.log(k, JSON.stringify(v))
  await db.close()
  await redis.dispose()
}, 60000)
