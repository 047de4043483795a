'use strict'
// RedisStore vs connect-redis 9 on node-redis 5 and connect-redis 7 on ioredis, same Redis,
// same sessions, one run: get and set, sequential and 64 in flight, ops/s and the Node main
// thread's CPU per operation; redis-benchmark's GET/SET rate at 64 connections as the ceiling.
//
// Main-thread CPU: process.cpuUsage() counts every thread of the process (tokio's too), so
// this reads /proc/self/task/<pid>/schedstat instead: the main thread's tid is the pid, and
// its first field is the nanoseconds that thread has run on a CPU (exact, not tick-sampled).
const fs = require('node:fs')
const { spawnSync } = require('node:child_process')
const { createClient } = require('redis')
const Redis = require('ioredis')
const { RedisStore: ConnectRedis9 } = require('connect-redis')
const ConnectRedis7 = require('connect-redis-7').default
const { RedisStore } = require('..')
const { ping, REDIS_PORT } = require('../__test__/helpers/redis')

const SCHEDSTAT = `/proc/self/task/${process.pid}/schedstat`
const mainThreadNs = () => Number(fs.readFileSync(SCHEDSTAT, 'utf8').split(' ')[0])

const SIDS = 1000
const SEQ_OPS = 2000
const PAR_OPS = 40000
const IN_FLIGHT = 64
const PREFIX = 'bench:redis:' + Math.random().toString(36).slice(2) + ':'

function makeSession (i) {
  return {
    cookie: { originalMaxAge: 86400000, expires: new Date(Date.now() + 86400000), secure: false, httpOnly: true, path: '/', sameSite: 'lax' },
    userId: 100000 + i,
    name: 'user' + i,
    roles: ['reader', 'writer'],
    cart: { items: [{ sku: 'A-1', qty: 2 }, { sku: 'B-22', qty: 1 }], checkout: false },
    csrf: 'x'.repeat(32),
    visits: i
  }
}
const sessions = Array.from({ length: SIDS }, (_, i) => makeSession(i))
const SIZE = JSON.stringify(sessions[0]).length

const call = (store, op, i) => new Promise((resolve, reject) => {
  const sid = 's' + (i % SIDS)
  const cb = (err, v) => err ? reject(err) : resolve(v)
  if (op === 'get') store.get(sid, cb)
  else store.set(sid, sessions[i % SIDS], cb)
})

async function run (store, op, ops, inFlight) {
  let next = 0
  let checked = 0
  async function worker () {
    while (next < ops) {
      const i = next++
      const v = await call(store, op, i)
      if (op === 'get' && v && v.userId === 100000 + (i % SIDS)) checked++
    }
  }
  if (global.gc) global.gc()
  const cpu0 = mainThreadNs()
  const t0 = process.hrtime.bigint()
  await Promise.all(Array.from({ length: inFlight }, worker))
  const ns = Number(process.hrtime.bigint() - t0)
  const cpu = mainThreadNs() - cpu0
  if (op === 'get' && checked !== ops) throw new Error(`get returned wrong sessions (${checked}/${ops})`)
  return { opsPerSec: ops / (ns / 1e9), cpuUs: cpu / 1e3 / ops }
}

function redisBenchmark () {
  const r = spawnSync('redis-benchmark', ['-p', String(REDIS_PORT), '-t', 'get,set', '-c', String(IN_FLIGHT), '-n', '100000', '-d', String(SIZE), '-q'], { encoding: 'utf8', timeout: 60000 })
  // it writes one key of its own, `key:__rand_int__`: removed, so the shared Redis is left as found
  spawnSync('redis-cli', ['-p', String(REDIS_PORT), 'DEL', 'key:__rand_int__'], { timeout: 10000 })
  if (r.error || r.status !== 0) return null
  const rate = (name) => {
    const m = new RegExp(`${name}: ([0-9.]+) requests per second`).exec(r.stdout.replace(/\r/g, '\n'))
    return m ? Number(m[1]) : null
  }
  return { get: rate('GET'), set: rate('SET') }
}

const fmt = (n) => Math.round(n).toLocaleString('en-US')

async function main () {
  if (!await ping(REDIS_PORT)) {
    console.log(`## RedisStore\n\nskipped: Redis is not reachable on 127.0.0.1:${REDIS_PORT}\n`)
    return
  }
  const nodeRedis = createClient({ url: `redis://127.0.0.1:${REDIS_PORT}` })
  await nodeRedis.connect()
  const ioredis = new Redis({ port: REDIS_PORT, host: '127.0.0.1', lazyConnect: false })
  const stores = [
    ['native-session RedisStore', new RedisStore({ port: REDIS_PORT, prefix: PREFIX + 'ours:' })],
    ["native-session RedisStore, transport: 'tokio'", new RedisStore({ port: REDIS_PORT, prefix: PREFIX + 'tokio:', transport: 'tokio' })],
    ['connect-redis 9 + node-redis 5', new ConnectRedis9({ client: nodeRedis, prefix: PREFIX + 'cr9:' })],
    ['connect-redis 7 + ioredis 5', new ConnectRedis7({ client: ioredis, prefix: PREFIX + 'cr7:' })]
  ]
  const results = {}
  for (const [name, store] of stores) {
    // warm up (JIT, connections) and fill every sid
    for (let i = 0; i < 3; i++) {
      await run(store, 'set', 5 * SIDS, IN_FLIGHT)
      await run(store, 'get', 5 * SIDS, IN_FLIGHT)
    }
    results[name] = {}
  }
  // case by case, the stores one after another, so a noisy moment hits them alike
  const cases = [['get, sequential', 'get', SEQ_OPS, 1], ['set, sequential', 'set', SEQ_OPS, 1],
    ['get, 64 in flight', 'get', PAR_OPS, IN_FLIGHT], ['set, 64 in flight', 'set', PAR_OPS, IN_FLIGHT]]
  for (const [label, op, ops, inFlight] of cases) {
    for (const [name, store] of stores) results[name][label] = await run(store, op, ops, inFlight)
  }
  const ceiling = redisBenchmark()

  const ours = stores[0][0]
  console.log(`## RedisStore (session JSON ${SIZE} B, ${SIDS} sessions, Redis on 127.0.0.1)\n`)
  console.log('| case | store | ops/s | main-thread µs/op | ours vs this |')
  console.log('| --- | --- | ---: | ---: | ---: |')
  for (const [c] of cases) {
    for (const [name] of stores) {
      const r = results[name][c]
      const ratio = name.startsWith('native-session') ? '' : `${(results[ours][c].opsPerSec / r.opsPerSec).toFixed(2)}×`
      console.log(`| ${c} | ${name} | ${fmt(r.opsPerSec)} | ${r.cpuUs.toFixed(1)} | ${ratio} |`)
    }
    const op = c.startsWith('get') ? 'get' : 'set'
    if (c.includes('64') && ceiling && ceiling[op]) {
      const pct = (100 * results[ours][c].opsPerSec / ceiling[op]).toFixed(0)
      console.log(`| ${c} | redis-benchmark -c 64 -d ${SIZE} (ceiling) | ${fmt(ceiling[op])} | – | ours ${pct} % |`)
    }
  }
  console.log('')

  for (const [, store] of stores) await store.clear()
  await stores[0][1].close()
  await stores[1][1].close()
  await nodeRedis.quit()
  ioredis.disconnect()
  await clusterBench()
}

// The same at 64 in flight on a private 3-master Redis Cluster (free loopback ports,
// stopped by pid): ours vs connect-redis 9 on node-redis createCluster.
async function clusterBench () {
  const { startCluster, hasRedisServer } = require('../__test__/helpers/redis-server')
  const { createCluster } = require('redis')
  if (!hasRedisServer()) { console.log('cluster: skipped (no redis-server)\n'); return }
  const cluster = await startCluster({ masters: 3 })
  try {
    const client = createCluster({ rootNodes: cluster.ports.map((p) => ({ url: `redis://127.0.0.1:${p}` })) })
    client.on('error', () => {})
    await client.connect()
    const stores = [
      ['native-session RedisStore (cluster)', new RedisStore({ cluster: cluster.ports.map((port) => ({ port })), prefix: 'b:' })],
      ['connect-redis 9 + node-redis 5 createCluster', new ConnectRedis9({ client, prefix: 'b:' })]
    ]
    const results = {}
    for (const [name, store] of stores) {
      await run(store, 'set', 5 * SIDS, IN_FLIGHT)
      await run(store, 'get', 5 * SIDS, IN_FLIGHT)
      results[name] = {}
    }
    const cases = [['get, 64 in flight', 'get'], ['set, 64 in flight', 'set']]
    for (const [label, op] of cases) {
      for (const [name, store] of stores) results[name][label] = await run(store, op, PAR_OPS / 2, IN_FLIGHT)
    }
    const ours = stores[0][0]
    console.log('## RedisStore on a 3-master Redis Cluster (same machine)\n')
    console.log('| case | store | ops/s | main-thread µs/op | ours vs this |')
    console.log('| --- | --- | ---: | ---: | ---: |')
    for (const [c] of cases) {
      for (const [name] of stores) {
        const r = results[name][c]
        const ratio = name.startsWith('native-session') ? '' : `${(results[ours][c].opsPerSec / r.opsPerSec).toFixed(2)}×`
        console.log(`| ${c} | ${name} | ${fmt(r.opsPerSec)} | ${r.cpuUs.toFixed(1)} | ${ratio} |`)
      }
    }
    console.log('')
    await stores[0][1].close()
    await client.close()
  } finally {
    await cluster.stop()
  }
}

main().catch((err) => { console.error(err); process.exit(1) })
