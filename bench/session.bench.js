'use strict'
// Express end to end: every request reads and increments req.session.count (cookie maxAge
// set, so each response also carries a fresh signed Set-Cookie), each autocannon connection
// keeping the cookie of its own pre-created session. The server runs in a child process
// (this file with --serve), autocannon here. Cells: no middleware (the ceiling), the same
// with req/res normalized as session() does first, express-session and ours over each store
// that exists on this checkout, and ours with `normalize: false` (what the rest is worth).
const { spawn } = require('node:child_process')
const crypto = require('node:crypto')
const http = require('node:http')

const SECONDS = Number(process.env.BENCH_SECONDS || 3)
const ROUNDS = Number(process.env.BENCH_ROUNDS || 2)
const CONNECTIONS = [10, 100]
const REDIS_PORT = Number(process.env.REDIS_PORT || 6379)

function optional (path, name) {
  try { return require(path)[name] } catch { return undefined }
}

// ---- the server side ---------------------------------------------------------------

async function makeStore (kind, prefix) {
  const expressSession = require('express-session')
  switch (kind) {
    case 'es-memory': return new expressSession.MemoryStore()
    case 'native-memory': return new (optional('../lib/memory-store', 'MemoryStore'))()
    case 'connect-redis': {
      const { RedisStore } = require('connect-redis')
      const { createClient } = require('redis')
      const client = createClient({ url: `redis://127.0.0.1:${REDIS_PORT}` })
      await client.connect()
      return new RedisStore({ client, prefix })
    }
    case 'native-redis': return new (optional('../lib/redis-store', 'RedisStore'))({ port: REDIS_PORT, prefix })
  }
  return undefined
}

async function serve (mw, storeKind, prefix) {
  const express = require('express')
  const app = express()
  app.get('/__cpu', (req, res) => res.json(process.cpuUsage())) // the server's CPU time, read around each run
  if (mw === 'none-normalized') {
    // the ceiling with only what session() does to Express's req/res first (README "What Express costs")
    const { normalize } = require('../lib/util')
    app.use((req, res, next) => { normalize(req); normalize(res); next() })
  }
  if (mw.startsWith('none')) {
    let count = 0
    app.get('/', (req, res) => { count++; res.send(String(count)) })
  } else {
    const session = mw === 'express-session' ? require('express-session') : require('../lib/session').session
    app.use(session({
      ...(mw === 'native-unnormalized' ? { normalize: false } : {}),
      store: await makeStore(storeKind, prefix),
      secret: 'bench secret',
      resave: false,
      saveUninitialized: false,
      cookie: { maxAge: 24 * 3600 * 1000 }
    }))
    app.get('/', (req, res) => {
      req.session.count = (req.session.count || 0) + 1
      res.send(String(req.session.count))
    })
  }
  const server = app.listen(0, '127.0.0.1', () => process.stdout.write(JSON.stringify({ port: server.address().port }) + '\n'))
}

// ---- the client side ---------------------------------------------------------------

function start (mw, store, prefix) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [__filename, '--serve', mw, store, prefix], { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    child.stdout.on('data', (d) => {
      out += d
      const nl = out.indexOf('\n')
      if (nl !== -1) resolve({ child, port: JSON.parse(out.slice(0, nl)).port })
    })
    child.on('exit', (code) => reject(new Error(`server ${mw}/${store} exited with ${code}`)))
  })
}

function cpu (port) {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: '/__cpu' }, (res) => {
      let body = ''
      res.on('data', (d) => { body += d })
      res.on('end', () => { const u = JSON.parse(body); resolve(u.user + u.system) })
    }).on('error', reject)
  })
}

function get (port, cookie) {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: '/', headers: cookie ? { cookie } : {} }, (res) => {
      res.resume()
      res.on('end', () => resolve(res.headers['set-cookie']))
    }).on('error', reject)
  })
}

// One server per row, all started up front with a pre-created session per connection, so
// the rows can be measured interleaved: ROUNDS passes over all rows, the best pass kept
// (other load on the machine only ever slows a pass down).
async function startRow (mw, store) {
  const prefix = `bench:session:${crypto.randomBytes(4).toString('hex')}:`
  const { child, port } = await start(mw, store, prefix)
  const cookies = []
  for (let i = 0; i < Math.max(...CONNECTIONS); i++) {
    const sc = await get(port)
    cookies.push(sc ? sc[0].split(';')[0] : undefined)
  }
  return { mw, store, prefix, child, port, cookies }
}

async function measure (row, connections, duration) {
  const autocannon = require('autocannon')
  let next = 0
  const setupClient = (client) => {
    const c = row.cookies[next++ % connections]
    if (c) client.setHeaders({ cookie: c })
  }
  const cpu0 = await cpu(row.port)
  const r = await autocannon({ url: `http://127.0.0.1:${row.port}/`, connections, duration, setupClient })
  const cpu1 = await cpu(row.port)
  if (r.non2xx || r.errors) throw new Error(`${row.mw}/${row.store}: ${r.non2xx} non-2xx, ${r.errors} errors`)
  return { rps: r.requests.average, p99: r.latency.p99, us: (cpu1 - cpu0) / r.requests.total }
}

async function stopRow (row) {
  // the sessions really were read and written: a connection's count went up
  if (!row.mw.startsWith('none') && !(await get(row.port, row.cookies[0]))) throw new Error(`${row.mw}/${row.store}: no Set-Cookie after the run`)
  row.child.kill()
  if (row.store.includes('redis')) await cleanup(row.prefix)
}

async function cleanup (prefix) {
  const { createClient } = require('redis')
  const client = createClient({ url: `redis://127.0.0.1:${REDIS_PORT}` })
  await client.connect()
  for await (const keys of client.scanIterator({ MATCH: prefix + '*', COUNT: 1000 })) if (keys.length) await client.del(keys)
  await client.quit()
}

async function redisUp () {
  const { ping } = require('../__test__/helpers/redis')
  return ping(REDIS_PORT)
}

async function main () {
  const haveMemory = typeof optional('../lib/memory-store', 'MemoryStore') === 'function'
  const haveRedis = typeof optional('../lib/redis-store', 'RedisStore') === 'function'
  const rows = [['no middleware (ceiling)', 'none', '-'], ['no middleware, req/res normalized', 'none-normalized', '-']]
  rows.push(['express-session + its MemoryStore', 'express-session', 'es-memory'])
  if (haveMemory) rows.push(['express-session + our MemoryStore', 'express-session', 'native-memory'])
  rows.push(['ours + express-session\'s MemoryStore', 'native', 'es-memory'])
  if (haveMemory) rows.push(['ours + our MemoryStore', 'native', 'native-memory'])
  if (haveMemory) rows.push(['ours + our MemoryStore, normalize: false', 'native-unnormalized', 'native-memory'])
  if (await redisUp()) {
    rows.push(['express-session + connect-redis', 'express-session', 'connect-redis'])
    if (haveRedis) rows.push(['express-session + our RedisStore', 'express-session', 'native-redis'])
    rows.push(['ours + connect-redis', 'native', 'connect-redis'])
    if (haveRedis) rows.push(['ours + our RedisStore', 'native', 'native-redis'])
    if (haveRedis) rows.push(['ours + our RedisStore, normalize: false', 'native-unnormalized', 'native-redis'])
  } else {
    console.log('(Redis not reachable: Redis rows skipped)')
  }

  const live = []
  for (const [label, mw, store] of rows) live.push({ label, ...(await startRow(mw, store)) })
  for (const row of live) await measure(row, CONNECTIONS[0], 1) // warm up
  const results = {}
  for (const row of live) results[row.label] = {}
  for (let round = 0; round < ROUNDS; round++) {
    for (const c of CONNECTIONS) {
      for (const row of live) {
        const r = await measure(row, c, SECONDS)
        const best = results[row.label][c]
        if (!best) results[row.label][c] = r
        else {
          if (r.rps > best.rps) Object.assign(best, { rps: r.rps, p99: r.p99 })
          if (r.us < best.us) best.us = r.us
        }
      }
    }
  }
  for (const row of live) await stopRow(row)
  const redis = rows.some((r) => r[2].includes('redis'))

  const ceiling = results['no middleware (ceiling)']
  const baseMem = results['express-session + its MemoryStore']
  const baseRedis = results['express-session + connect-redis']
  const fmt = (n) => Math.round(n).toLocaleString('en-US')
  console.log(`## session middleware: Express end to end, best of ${ROUNDS} interleaved ${SECONDS} s autocannon runs per cell, req.session.count++ per request\n`)
  console.log('Server CPU per request (µs, lowest of the passes) is the steadier measure on a shared machine.\n')
  console.log('| app | ' + CONNECTIONS.map((c) => `${c} conn req/s | vs express-session | vs ceiling | CPU µs/req`).join(' | ') + ' |')
  console.log('| --- | ' + CONNECTIONS.map(() => '---: | ---: | ---: | ---:').join(' | ') + ' |')
  for (const [label, mw, store] of rows) {
    const base = store.includes('redis') ? baseRedis : baseMem
    const cells = CONNECTIONS.map((c) => {
      const r = results[label][c]
      const vsBase = mw.startsWith('none') ? '' : `${(r.rps / base[c].rps).toFixed(2)}× (CPU ${(base[c].us / r.us).toFixed(2)}×)`
      return `${fmt(r.rps)} | ${vsBase} | ${Math.round(100 * r.rps / ceiling[c].rps)} % | ${Math.round(r.us)}`
    })
    console.log(`| ${label} | ${cells.join(' | ')} |`)
  }
  console.log()
  await inProcess(haveMemory, haveRedis, redis)
}

// ---- the middleware alone, in process ---------------------------------------------
// The same request (read + increment, Set-Cookie) through the middleware with Node's own
// IncomingMessage / ServerResponse and no socket: what the middleware and store cost,
// without HTTP parsing and socket writes (and much less noise on a shared machine).
function fakeRequest (mw, cookie) {
  return new Promise((resolve, reject) => {
    const req = new http.IncomingMessage(null)
    req.method = 'GET'
    req.url = '/'
    req.headers = cookie ? { cookie } : {}
    const res = new http.ServerResponse(req)
    const end = res.end
    res.end = function () { resolve(res); return end.apply(this, arguments) }
    mw(req, res, (err) => {
      if (err) return reject(err)
      req.session.count = (req.session.count || 0) + 1
      res.setHeader('Content-Type', 'text/plain; charset=utf-8')
      res.end(String(req.session.count))
    })
  })
}

async function inProcess (haveMemory, haveRedis, redis) {
  const expressSession = require('express-session')
  const { session } = require('../lib/session')
  const cells = [['express-session + its MemoryStore', expressSession, 'es-memory'], ['ours + its MemoryStore', session, 'es-memory']]
  if (haveMemory) cells.push(['express-session + our MemoryStore', expressSession, 'native-memory'], ['ours + our MemoryStore', session, 'native-memory'])
  if (redis) cells.push(['express-session + connect-redis', expressSession, 'connect-redis'], ['ours + connect-redis', session, 'connect-redis'])
  if (redis && haveRedis) cells.push(['ours + our RedisStore', session, 'native-redis'])
  const live = []
  for (const [label, impl, kind] of cells) {
    const prefix = `bench:session:${crypto.randomBytes(4).toString('hex')}:`
    const store = await makeStore(kind, prefix)
    const mw = impl({ store, secret: 'bench secret', resave: false, saveUninitialized: false, cookie: { maxAge: 24 * 3600 * 1000 } })
    const cookie = (await fakeRequest(mw)).getHeader('set-cookie')[0].split(';')[0]
    live.push({ label, kind, store, prefix, mw, cookie, best: Infinity })
  }
  const n = Number(process.env.BENCH_INPROC || 4000)
  for (let round = 0; round < 4; round++) {
    for (const cell of live) {
      const c0 = process.cpuUsage()
      for (let i = 0; i < (round === 0 ? n / 4 : n); i++) await fakeRequest(cell.mw, cell.cookie)
      const c = process.cpuUsage(c0)
      if (round > 0) cell.best = Math.min(cell.best, (c.user + c.system) / n)
    }
  }
  const base = live[0].best
  const baseRedis = (live.find((c) => c.label === 'express-session + connect-redis') || {}).best
  console.log('## session middleware alone (in process, no HTTP): CPU µs per request, lowest of 3 passes\n')
  console.log('| middleware + store | CPU µs/req | vs express-session |')
  console.log('| --- | ---: | ---: |')
  for (const cell of live) {
    const b = cell.kind.includes('redis') ? baseRedis : base
    console.log(`| ${cell.label} | ${cell.best.toFixed(1)} | ${(b / cell.best).toFixed(2)}× |`)
  }
  console.log()
  for (const cell of live) {
    if (cell.kind.includes('redis')) await cleanup(cell.prefix)
    if (cell.store.client) await cell.store.client.quit()
    if (typeof cell.store.close === 'function') await cell.store.close()
  }
}

if (process.argv[2] === '--serve') {
  process.on('SIGINT', () => process.exit(0))
  serve(process.argv[3], process.argv[4], process.argv[5]).catch((err) => { console.error(err); process.exit(1) })
} else {
  main().catch((err) => { console.error(err); process.exit(1) })
}
