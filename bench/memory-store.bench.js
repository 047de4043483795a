'use strict'
// MemoryStore vs express-session's MemoryStore and memorystore, in one run:
// - ops/s of get (hit, miss), set, touch, destroy, sequential and with 64 in flight, on stores
//   holding 10k and 100k sessions, through the callback API express-session uses;
// - memory after 100k and 1M sessions of ~400 bytes (RSS and heapUsed after GC), each store
//   measured in a child process of its own.
// `node --expose-gc bench/memory-store.bench.js [--quick]` (env PREFILL=n, NO_MEM=1 to narrow it)
const { spawn, fork } = require('node:child_process')
const session = require('express-session')
const { MemoryStore } = require('..')
const memorystore = require('memorystore')(session)

const QUICK = process.argv.includes('--quick')
const RUN_MS = QUICK ? 150 : 300
const WARMUP = 5000
const ROUNDS = 2
const DESTROY_POOL = 50000
const PREFILLS = process.env.PREFILL ? [Number(process.env.PREFILL)] : QUICK ? [10000] : [10000, 100000]
const MEM_SIZES = process.env.NO_MEM ? [] : QUICK ? [100000] : [100000, 1000000]

const STORES = {
  'native-session': () => new MemoryStore({ compress: process.env.COMPRESS !== '0' }),
  'express-session': () => new session.MemoryStore(),
  memorystore: () => new memorystore({})
}

// Not a store: the least work any store that returns a copy must do. A JS Map of JSON
// strings, get = JSON.parse, set = JSON.stringify, touch = JSON.stringify of the cookie,
// each deferred with setImmediate; no expiry, no LRU, no Promise. Its ratio to the best
// JS store is the highest ratio any store can reach on that row.
const FLOOR = 'JSON work alone'
function floorStore () {
  const m = new Map()
  return {
    get (sid, cb) { const j = m.get(sid); setImmediate(cb, null, j === undefined ? undefined : JSON.parse(j)) },
    set (sid, s, cb) { m.set(sid, JSON.stringify(s)); setImmediate(cb, null) },
    touch (sid, s, cb) { JSON.stringify(s.cookie); setImmediate(cb, null) },
    destroy (sid, cb) { m.delete(sid); setImmediate(cb, null) }
  }
}

// seeded PRNG: same sessions for every store
function rng (seed) {
  return () => {
    seed = (seed + 0x6D2B79F5) | 0
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
// flat strings, like the sids express-session slices out of a cookie (`+=` would build a rope)
const token = (r, n) => Array.from({ length: n }, () => B64[Math.floor(r() * 64)]).join('')
const FIRST = ['Anna', 'Ben', 'Chloé', 'David', 'Elif', 'François', 'Grace', 'Hiro', 'Inès', 'José', 'Kai', 'Zoë']
const LAST = ['Smith', 'Müller', 'García', 'Rossi', 'Dubois', 'Nowak', 'Tanaka', 'Öztürk', 'Silva', 'Jensen']

// A ~400-byte session: an express-session Cookie plus typical app data.
function makeSession (r, i) {
  const first = FIRST[Math.floor(r() * FIRST.length)]
  const last = LAST[Math.floor(r() * LAST.length)]
  return {
    cookie: new session.Cookie({ maxAge: 86400000, httpOnly: true, path: '/', sameSite: 'lax', secure: false }),
    user: { id: 100000 + Math.floor(r() * 900000), name: `${first} ${last}`, email: `${first.toLowerCase()}.${last.toLowerCase()}${i % 97}@example.com`, roles: r() < 0.1 ? ['admin', 'editor'] : ['customer'] },
    csrfSecret: token(r, 24),
    cart: { items: [{ sku: 'SKU-' + Math.floor(r() * 5000), qty: 1 + Math.floor(r() * 3), price: Math.round(r() * 10000) / 100 }], currency: r() < 0.5 ? 'EUR' : 'USD' },
    flash: {},
    views: Math.floor(r() * 200),
    lastSeen: 1764000000000 + Math.floor(r() * 1e9),
    returnTo: '/account/orders?page=' + Math.floor(r() * 10)
  }
}

// ---- memory: one child process per store and size ----
function memChild (name, n) {
  const gc = () => { global.gc(); global.gc() }
  gc()
  const r = rng(7)
  const store = STORES[name]()
  const proto = Array.from({ length: 1000 }, (_, i) => makeSession(r, i))
  let bytes = 0
  for (let i = 0; i < n; i++) {
    const s = proto[i % 1000]
    s.views = i
    if (i < 1000) bytes += JSON.stringify(s).length
    store.set(token(r, 32), s, () => {})
  }
  // callbacks are deferred: let them run, then measure
  setTimeout(() => {
    proto.length = 0
    gc()
    const m = process.memoryUsage()
    process.stdout.write(JSON.stringify({ rss: m.rss, heapUsed: m.heapUsed, avg: bytes / 1000 }))
    global.keep = store
  }, 200)
}

function runChild (name, n) {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, ['--expose-gc', '--max-old-space-size=4096', __filename, '--mem', name, String(n)], { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    c.stdout.on('data', (d) => { out += d })
    c.on('exit', (code) => code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`${name} ${n}: exit ${code}`)))
  })
}

// ---- ops/s ----
function prefill (store, sessions) {
  return new Promise((resolve) => {
    let left = sessions.length
    sessions.forEach(([sid, s]) => store.set(sid, s, () => { if (--left === 0) resolve() }))
  })
}

// Runs op(i, done) with `inflight` chains for about RUN_MS (or `limit` ops); ops/s.
function measure (op, inflight, limit = Infinity) {
  return new Promise((resolve) => {
    let i = 0
    let done = 0
    let stop = false
    let running = inflight
    const t0 = process.hrtime.bigint()
    const deadline = t0 + BigInt(RUN_MS) * 1000000n
    // a trampoline: memorystore calls back synchronously on a miss
    const next = () => {
      for (;;) {
        if (stop) {
          if (--running === 0) resolve(done / (Number(process.hrtime.bigint() - t0) / 1e9))
          return
        }
        let sync = true
        let again = false
        op(i++, () => {
          done++
          if (((done & 255) === 0 && process.hrtime.bigint() > deadline) || i >= limit) stop = true
          if (sync) again = true
          else next()
        })
        sync = false
        if (!again) return
      }
    }
    for (let k = 0; k < inflight; k++) next()
  })
}

// One child process per store holds only that store (no store's heap slows another's GC);
// the parent asks each child in turn to time one op, two rounds, and keeps the best, so
// load changes on a shared machine hit every store alike.
function opsChild (name, count) {
  const r = rng(1)
  const data = Array.from({ length: count }, (_, i) => [token(r, 32), makeSession(r, i)])
  const fresh = Array.from({ length: 1000 }, (_, i) => makeSession(r, i))
  const missing = Array.from({ length: 1000 }, () => token(r, 32))
  const store = name === FLOOR ? floorStore() : STORES[name]()
  const sid = (i) => data[i % count][0]
  const ops = {
    'get (hit)': (i, cb) => store.get(sid(i), cb),
    'get (miss)': (i, cb) => store.get(missing[i % 1000], cb),
    set: (i, cb) => store.set(sid(i), fresh[i % 1000], cb),
    touch: (i, cb) => store.touch(sid(i), fresh[i % 1000], cb),
    destroy: (i, cb) => store.destroy('d' + i, cb)
  }
  prefill(store, data).then(() => process.send({ ready: true }))
  process.on('message', async ({ op, inflight, exit }) => {
    if (exit) { if (store.close) await store.close(); process.exit(0) }
    const fn = ops[op]
    await measure(fn, inflight, WARMUP) // the JIT
    let limit = Infinity
    if (op === 'destroy') {
      // destroy existing sessions: a pool stored first, outside the timing
      const small = { cookie: new session.Cookie({ maxAge: 86400000 }), v: 1 }
      await prefill(store, Array.from({ length: DESTROY_POOL }, (_, i) => ['d' + i, small]))
      limit = DESTROY_POOL
    }
    global.gc()
    process.send({ opsPerSec: await measure(fn, inflight, limit) })
  })
}

async function opsBench (count) {
  const children = [...Object.keys(STORES), FLOOR].map((name) => {
    const c = fork(__filename, ['--ops', name, String(count)], { execArgv: ['--expose-gc'] })
    let pending
    c.on('message', (m) => pending.resolve(m))
    c.on('exit', (code) => { if (code) pending.reject(new Error(`${name}: exit ${code}`)) })
    const next = () => new Promise((resolve, reject) => { pending = { resolve, reject } })
    return { name, c, next, ready: next() }
  })
  await Promise.all(children.map((ch) => ch.ready))
  const results = {}
  for (const op of ['get (hit)', 'get (miss)', 'set', 'touch', 'destroy']) {
    for (const inflight of [1, 64]) {
      const row = results[`${op}|${inflight}`] = {}
      for (let round = 0; round < ROUNDS; round++) {
        for (const ch of children) {
          const got = ch.next()
          ch.c.send({ op, inflight })
          row[ch.name] = Math.max(row[ch.name] || 0, (await got).opsPerSec)
        }
      }
    }
  }
  for (const ch of children) ch.c.send({ exit: true })
  return results
}

const fmt = (n) => n >= 1e6 ? (n / 1e6).toFixed(2) + 'M' : n >= 1e3 ? (n / 1e3).toFixed(0) + 'k' : n.toFixed(0)
const mib = (b) => (b / 2 ** 20).toFixed(0) + ' MiB'

async function main () {
  const names = Object.keys(STORES)
  for (const prefillCount of PREFILLS) {
    const results = await opsBench(prefillCount)
    console.log(`## MemoryStore ops/s with ${fmt(prefillCount)} sessions stored (callback API as express-session calls it; each store in its own process, best of ${ROUNDS} interleaved rounds)\n`)
    console.log(`| op | in flight | ${names.join(' | ')} | ratio vs best JS | ${FLOOR} | its ratio vs best JS (the most any store can reach) |`)
    console.log(`| --- | --- | ${names.map(() => '---:').join(' | ')} | ---: | ---: | ---: |`)
    for (const [key, row] of Object.entries(results)) {
      const [op, inflight] = key.split('|')
      const best = Math.max(...names.slice(1).map((n) => row[n]))
      console.log(`| ${op} | ${inflight} | ${names.map((n) => fmt(row[n])).join(' | ')} | ${(row[names[0]] / best).toFixed(2)}× | ${fmt(row[FLOOR])} | ${(row[FLOOR] / best).toFixed(2)}× |`)
    }
    console.log()
  }
  console.log(`## MemoryStore memory (each store in its own process, after GC)\n`)
  console.log(`| sessions | ${names.map((n) => `${n} RSS / heapUsed`).join(' | ')} | RSS ratio vs express-session |`)
  console.log(`| --- | ${names.map(() => '---:').join(' | ')} | ---: |`)
  for (const n of MEM_SIZES) {
    const mem = await Promise.all(names.map((name) => runChild(name, n)))
    console.log(`| ${fmt(n)} (~${Math.round(mem[0].avg)} B JSON) | ${mem.map((m) => `${mib(m.rss)} / ${mib(m.heapUsed)}`).join(' | ')} | ${(mem[0].rss / mem[1].rss).toFixed(2)}× |`)
  }
  console.log()
}

if (process.argv[2] === '--mem') memChild(process.argv[3], Number(process.argv[4]))
else if (process.argv[2] === '--ops') opsChild(process.argv[3], Number(process.argv[4]))
else main().catch((err) => { console.error(err); process.exit(1) })
