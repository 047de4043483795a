'use strict'
// createSessions() end to end. HTTP: Express with sessions.http() (our session() on our
// memory and Redis stores) vs express-session with its MemoryStore, memorystore and
// connect-redis; autocannon at 10 and 100 connections, every request reading and writing
// its own session (each connection is one browser: the first response's cookie is sent
// back). Websocket RPC: messages/s with `req.use('session')` + `save()` per message vs
// SocketStream's hand glue (cookie + cookie-signature at upgrade, store.load() +
// session.save() per message). Each server runs in its own child process; the load comes from this one.
const { spawn } = require('node:child_process')
const http = require('node:http')
const path = require('node:path')

const SECRET = 'bench secret'
const REDIS_PORT = Number(process.env.REDIS_PORT || 6379)
const SECONDS = Number(process.env.BENCH_SECONDS || 3)
const ROUNDS = Number(process.env.BENCH_ROUNDS || 2)
const WS_CLIENTS = 50

// ---------------------------------------------------------------- servers (child side)

const servers = {
  bare: () => {
    const app = require('express')()
    app.get('/__cpu', cpuRoute)
    app.get('/', (req, res) => res.end('1'))
    return { server: http.createServer(app), store: {} }
  },
  // the ceiling with only what session() does to Express's req/res first (README "What Express costs")
  'bare-normalized': () => {
    const { normalize } = require('../lib/util')
    const app = require('express')()
    app.get('/__cpu', cpuRoute)
    app.use((req, res, next) => { normalize(req); normalize(res); next() })
    app.get('/', (req, res) => res.end('1'))
    return { server: http.createServer(app), store: {} }
  },
  // the websocket ceiling: each message answered with a counter, no session at all
  'ws-echo': () => {
    const app = require('express')()
    app.get('/__cpu', cpuRoute)
    app.get('/', (req, res) => { res.setHeader('Set-Cookie', 'connect.sid=none; Path=/'); res.end('0') })
    const server = http.createServer(app)
    let n = 0
    new (require('ws').WebSocketServer)({ server }).on('connection', (ws) => ws.on('message', () => ws.send(String(++n))))
    return { server, store: {} }
  },
  'native-memory': () => nativeApp((s) => s.store.use('memory')),
  'native-redis': () => nativeApp((s) => s.store.use('redis', { port: REDIS_PORT, prefix: 'bench:sessions:native:' })),
  'es-memory': () => jsApp(() => new (require('express-session').MemoryStore)()),
  'es-memorystore': () => jsApp((session) => new (require('memorystore')(session))({ checkPeriod: 24 * 3600 * 1000 })),
  'es-connect-redis': () => jsApp(() => {
    const client = require('redis').createClient({ url: `redis://127.0.0.1:${REDIS_PORT}` })
    client.connect()
    return new (require('connect-redis').RedisStore)({ client, prefix: 'bench:sessions:es:' })
  })
}

// The server's CPU time (µs), read around each run: CPU per request is steadier than
// req/s on a shared machine.
function cpuRoute (req, res) {
  const u = process.cpuUsage()
  res.end(String(u.user + u.system))
}

// Every request reads and writes its session (a counter and a small cart).
function route (req, res) {
  const s = req.session
  s.n = (s.n || 0) + 1
  if (!s.cart) s.cart = { items: ['tea', 'milk', 'bread'], checkout: false, user: 'bench user' }
  res.end(String(s.n))
}

function nativeApp (pickStore) {
  const { createSessions } = require('..')
  const sessions = createSessions({ secret: SECRET })
  const store = pickStore(sessions)
  const app = require('express')()
  app.get('/__cpu', cpuRoute)
  app.use(sessions.http())
  app.get('/', route)
  const server = http.createServer(app)
  // websocket RPC, the createSessions() way
  const wss = new (require('ws').WebSocketServer)({ server })
  wss.on('connection', (ws, upgradeReq) => {
    const socket = sessions.socket(upgradeReq)
    ws.on('message', async () => {
      const req = socket.request()
      const s = await req.use('session')
      s.n = (s.n || 0) + 1
      await s.save()
      ws.send(String(s.n))
    })
  })
  return { server, store }
}

function jsApp (makeStore) {
  const session = require('express-session')
  const store = makeStore(session)
  const app = require('express')()
  app.get('/__cpu', cpuRoute)
  app.use(session({ store, secret: SECRET, resave: false, saveUninitialized: true, cookie: { maxAge: 30 * 24 * 3600 * 1000 } }))
  app.get('/', route)
  const server = http.createServer(app)
  // websocket RPC, glued by hand as SocketStream did: the signed cookie read at upgrade,
  // store.load() (an express-session Session) and session.save() per message
  const cookie = require('cookie')
  const signature = require('cookie-signature')
  const wss = new (require('ws').WebSocketServer)({ server })
  wss.on('connection', (ws, upgradeReq) => {
    const raw = cookie.parse(upgradeReq.headers.cookie || '')['connect.sid']
    const sid = raw && raw.startsWith('s:') ? signature.unsign(raw.slice(2), SECRET) : false
    ws.on('message', () => {
      store.load(sid, (err, s) => {
        if (err || !s) return ws.send('error')
        s.n = (s.n || 0) + 1
        s.save((err) => ws.send(err ? 'error' : String(s.n)))
      })
    })
  })
  return { server, store }
}

function serve (name) {
  const { server, store } = servers[name]()
  server.listen(0, '127.0.0.1', () => process.stdout.write(`port ${server.address().port}\n`))
  process.on('SIGTERM', () => {
    server.closeAllConnections()
    server.close()
    const done = () => process.exit(0)
    // drop what the bench wrote (Redis prefixes of their own)
    if (typeof store.clear === 'function') store.clear(() => done())
    else done()
    setTimeout(done, 5000).unref()
  })
}

// ---------------------------------------------------------------- load (parent side)

function start (name) {
  const child = spawn(process.execPath, [__filename, '--serve', name], { stdio: ['ignore', 'pipe', 'inherit'] })
  return new Promise((resolve, reject) => {
    let out = ''
    child.stdout.on('data', (d) => {
      out += d
      const m = /port (\d+)/.exec(out)
      if (m) resolve({ port: Number(m[1]), stop: () => new Promise((resolve) => { child.on('exit', resolve); child.kill('SIGTERM') }) })
    })
    child.on('exit', (code) => reject(new Error(`${name} exited (${code})`)))
  })
}

// autocannon gives the headers as the server sent them (express-session's is 'Set-Cookie')
function setCookieOf (headers) {
  const h = headers['set-cookie'] || headers['Set-Cookie']
  const line = Array.isArray(h) ? h[0] : h
  return line ? line.split(';')[0] : undefined
}

// autocannon: each connection loops over [new browser, then 2000 requests with its cookie].
async function httpRun (port, connections, seconds, counting = true) {
  const autocannon = require('autocannon')
  let most = 0 // the highest count a response showed: proof that the cookie was carried
  const withCookie = {
    method: 'GET',
    path: '/',
    setupRequest: (req, ctx) => ({ ...req, headers: { cookie: ctx.cookie } }),
    onResponse: (status, body, ctx, headers) => {
      ctx.cookie = setCookieOf(headers) || ctx.cookie
      most = Math.max(most, Number(body))
    }
  }
  const first = { method: 'GET', path: '/', onResponse: (status, body, ctx, headers) => { ctx.cookie = setCookieOf(headers) } }
  const result = await autocannon({
    url: `http://127.0.0.1:${port}`,
    connections,
    duration: seconds,
    requests: [first, ...Array(2000).fill(withCookie)]
  })
  if (result.errors || result.non2xx) throw new Error(`errors ${result.errors}, non-2xx ${result.non2xx}`)
  if (counting && most < 10) throw new Error(`the session cookie was not carried (highest count seen: ${most})`)
  return { rate: result.requests.average, total: result.requests.total }
}

// WS_CLIENTS browsers: each gets its session over HTTP, then sends one RPC at a time.
async function wsRun (port, seconds) {
  const { WebSocket } = require('ws')
  const sockets = await Promise.all(Array.from({ length: WS_CLIENTS }, async () => {
    const res = await fetch(`http://127.0.0.1:${port}/`)
    const cookie = res.headers.getSetCookie()[0].split(';')[0]
    await res.text()
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`, { headers: { cookie } })
    await new Promise((resolve, reject) => { ws.on('open', resolve); ws.on('error', reject) })
    return ws
  }))
  let count = 0
  let errors = 0
  let running = true
  const t0 = Date.now()
  for (const ws of sockets) {
    ws.on('message', (d) => {
      if (d.toString() === 'error') errors++
      count++
      if (running) ws.send('rpc')
    })
    ws.send('rpc')
  }
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000))
  running = false
  const rate = count / ((Date.now() - t0) / 1000)
  await new Promise((resolve) => setTimeout(resolve, 100)) // the last replies
  for (const ws of sockets) ws.terminate()
  if (errors) throw new Error(`${errors} RPC errors`)
  return { rate, total: count }
}

async function cpu (port) {
  const res = await fetch(`http://127.0.0.1:${port}/__cpu`)
  return Number(await res.text())
}

// One measured run against a running server: { rate, us } (ops/s, server CPU µs per op).
async function run (server, fn) {
  const c0 = await cpu(server.port)
  const { rate, total } = await fn(server.port)
  const c1 = await cpu(server.port)
  return { rate, us: (c1 - c0) / total }
}

async function redisUp () {
  const net = require('node:net')
  return new Promise((resolve) => {
    const s = net.connect(REDIS_PORT, '127.0.0.1')
    s.setTimeout(500, () => { s.destroy(); resolve(false) })
    s.on('error', () => resolve(false))
    s.on('connect', () => { s.destroy(); resolve(true) })
  })
}

// Runs every server ROUNDS times, alternating the order, and keeps the best of each
// (highest rate, lowest CPU per op).
async function compare (names, fn) {
  const servers = {}
  for (const n of names) servers[n] = await start(n)
  const best = {}
  try {
    for (const n of names) await fn(servers[n].port, 1, n) // warm-up
    for (let r = 0; r < ROUNDS; r++) {
      for (const n of (r % 2 ? [...names].reverse() : names)) {
        const m = await run(servers[n], (port) => fn(port, SECONDS, n))
        const b = best[n] || (best[n] = { rate: 0, us: Infinity })
        b.rate = Math.max(b.rate, m.rate)
        b.us = Math.min(b.us, m.us)
      }
    }
  } finally {
    for (const n of names) await servers[n].stop()
  }
  return best
}

async function main () {
  const fmt = (n) => Math.round(n).toLocaleString('en-US')
  const rows = []
  const row = (what, a, b, unit) => rows.push([what, `${fmt(a.rate)} ${unit}`, `${fmt(b.rate)} ${unit}`,
    (a.rate / b.rate).toFixed(2) + '×', `${a.us.toFixed(0)} / ${b.us.toFixed(0)} µs`, (b.us / a.us).toFixed(2) + '×'])
  const haveRedis = await redisUp()
  const pairs = [
    ['memory', 'native-memory', 'es-memory', 'express-session + MemoryStore'],
    ['memory', 'native-memory', 'es-memorystore', 'express-session + memorystore'],
    ['redis', 'native-redis', 'es-connect-redis', 'express-session + connect-redis']
  ]
  const names = ['bare', 'bare-normalized', 'native-memory', 'es-memory', 'es-memorystore', ...(haveRedis ? ['native-redis', 'es-connect-redis'] : [])]
  const only = process.env.BENCH_ONLY // 'http' or 'ws': one half only
  for (const connections of only === 'ws' ? [] : [10, 100]) {
    const best = await compare(names, (port, seconds, name) => httpRun(port, connections, seconds, !name.startsWith('bare')))
    rows.push([`HTTP, ${connections} connections: Express without sessions (the ceiling)`, `${fmt(best.bare.rate)} req/s`, '', '', `${best.bare.us.toFixed(0)} µs`, ''])
    const bn = best['bare-normalized']
    rows.push([`HTTP, ${connections} connections: Express without sessions, req/res normalized`, `${fmt(bn.rate)} req/s`, '', '', `${bn.us.toFixed(0)} µs`, ''])
    for (const [kind, ours, theirs, label] of pairs) {
      const what = `HTTP, ${connections} connections, ${kind}: sessions.http() vs ${label}`
      if (!best[ours]) rows.push([what, 'n/a', 'n/a', 'no Redis', '', ''])
      else row(what, best[ours], best[theirs], 'req/s')
    }
  }
  if (only !== 'http') {
    const best = await compare(['ws-echo'], (port, seconds) => wsRun(port, seconds))
    rows.push([`websocket, ${WS_CLIENTS} sockets: a ws echo without sessions (the ceiling)`, `${fmt(best['ws-echo'].rate)} msg/s`, '', '', `${best['ws-echo'].us.toFixed(0)} µs`, ''])
  }
  for (const [kind, ours, theirs, label] of only === 'http' ? [] : [['memory', 'native-memory', 'es-memory', 'MemoryStore'], ['redis', 'native-redis', 'es-connect-redis', 'connect-redis']]) {
    const what = `websocket RPC, ${WS_CLIENTS} sockets, ${kind}: use('session') + save() vs cookie-signature + ${label} load/save`
    if (kind === 'redis' && !haveRedis) { rows.push([what, 'n/a', 'n/a', 'no Redis', '', '']); continue }
    const best = await compare([ours, theirs], (port, seconds) => wsRun(port, seconds))
    row(what, best[ours], best[theirs], 'msg/s')
  }
  console.log(`## sessions: createSessions() end to end (best of ${ROUNDS} × ${SECONDS} s, alternating)\n`)
  console.log('| scenario | native-session | JS packages | ratio | server CPU per op (ours / JS) | CPU ratio |')
  console.log('| --- | ---: | ---: | ---: | ---: | ---: |')
  for (const r of rows) console.log(`| ${r.join(' | ')} |`)
  console.log()
}

if (process.argv[2] === '--serve') serve(process.argv[3])
else main().catch((err) => { console.error(err); process.exit(1) })
