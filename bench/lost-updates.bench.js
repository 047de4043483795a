'use strict'
// Lost updates between HTTP and websocket writes to ONE session (issue 8's proof).
// One server per stack: Express routes and a ws RPC handler on one store, one signed-in
// browser. Each channel (HTTP, websocket) sends K writes with 1, 8 and 32 in flight; every
// handler waits ~1 ms between loading the session and changing it (real handlers do I/O).
//   (a) counters: each channel increments its own counter K times → lost increments
//   (b) own keys: each write sets a key of its own (h<i>, w<i>) → rolled-back keys
//   (c) logout over HTTP while RPC writes are in flight → trials where the session is
//       back in the store afterwards (resurrected)
//   (d) the same writes spread over 32 signed-in browsers (no contention): ops/s
// Stacks: express-session with its MemoryStore and with connect-redis (node-redis), the RPC
// side glued as apps do (store.load + session.save); ours through createSessions()
// (sessions.http() + req.use('session')) on our memory and Redis stores, by default
// (merge), with `merge: false` (the blind overwrite, to price the merge) and `lock: true`.
// Env: LOST_K (500), LOST_TRIALS (20), LOST_ONLY (substring of stack names), REDIS_PORT.
const http = require('node:http')
const { setTimeout: delay } = require('node:timers/promises')

const K = Number(process.env.LOST_K || 500)
const TRIALS = Number(process.env.LOST_TRIALS || 20)
const LEVELS = (process.env.LOST_LEVELS || '1,8,32').split(',').map(Number)
const REDIS_PORT = Number(process.env.REDIS_PORT || 6379)
const SECRET = 'lost updates bench'
const RUN = Math.random().toString(36).slice(2, 8)

// ---------------------------------------------------------------- the app (same for all)

function work () { return delay(1) }

function routes (app) {
  app.get('/login', (req, res) => { req.session.user = 'ada'; res.end(req.sessionID) })
  app.post('/inc', async (req, res) => {
    await work()
    const k = req.query.k
    req.session[k] = (req.session[k] || 0) + 1
    res.end('ok')
  })
  app.post('/set', async (req, res) => {
    await work()
    req.session[req.query.k] = Number(req.query.v)
    res.end('ok')
  })
  app.post('/logout', (req, res, next) => {
    req.session.destroy((err) => (err ? next(err) : res.end('bye')))
  })
  app.use((err, req, res, next) => { res.statusCode = 500; res.end(String(err.code || err.message)) })
}

// an RPC: { id, op: 'inc'|'set', k, v } → { id, ok } | { id, err }
function applyOp (s, m) {
  if (m.op === 'inc') s[m.k] = (s[m.k] || 0) + 1
  else s[m.k] = m.v
}

function stackOurs (storeKind, extra) {
  return async () => {
    const { createSessions } = require('..')
    const sessions = createSessions({ secret: SECRET, ...extra })
    const store = storeKind === 'redis'
      ? sessions.store.use('redis', { port: REDIS_PORT, prefix: `bench:lost:${RUN}:` })
      : sessions.store.use('memory')
    const app = require('express')()
    app.use(sessions.http())
    routes(app)
    return {
      app,
      store,
      onSocket (ws, upgradeReq) {
        const socket = sessions.socket(upgradeReq)
        ws.on('message', async (data) => {
          const m = JSON.parse(data)
          try {
            const req = socket.request()
            const s = await req.use('session')
            await work()
            applyOp(s, m)
            await s.save()
            ws.send(JSON.stringify({ id: m.id, ok: true }))
          } catch (err) {
            ws.send(JSON.stringify({ id: m.id, err: err.code || err.message }))
          }
        })
      }
    }
  }
}

function stackExpress (storeKind) {
  return async () => {
    const session = require('express-session')
    let store, client
    if (storeKind === 'redis') {
      client = require('redis').createClient({ url: `redis://127.0.0.1:${REDIS_PORT}` })
      await client.connect()
      store = new (require('connect-redis').RedisStore)({ client, prefix: `bench:lost:${RUN}:es:` })
    } else if (storeKind === 'ours-memory') {
      store = new (require('..').MemoryStore)()
    } else if (storeKind === 'ours-redis') {
      store = new (require('..').RedisStore)({ port: REDIS_PORT, prefix: `bench:lost:${RUN}:esours:` })
    } else {
      store = new session.MemoryStore()
    }
    const app = require('express')()
    app.use(session({ store, secret: SECRET, resave: false, saveUninitialized: true }))
    routes(app)
    const cookie = require('cookie')
    const signature = require('cookie-signature')
    return {
      app,
      store,
      close: () => client && client.quit(),
      onSocket (ws, upgradeReq) {
        const raw = cookie.parse(upgradeReq.headers.cookie || '')['connect.sid']
        const sid = raw && raw.startsWith('s:') ? signature.unsign(raw.slice(2), SECRET) : false
        ws.on('message', (data) => {
          const m = JSON.parse(data)
          store.load(sid, async (err, s) => {
            if (err || !s) return ws.send(JSON.stringify({ id: m.id, err: err ? err.message : 'gone' }))
            await work()
            applyOp(s, m)
            s.save((err) => ws.send(JSON.stringify(err ? { id: m.id, err: err.message } : { id: m.id, ok: true })))
          })
        })
      }
    }
  }
}

const STACKS = [
  ['express-session + MemoryStore', 'memory', stackExpress('memory')],
  ['express-session + our MemoryStore', 'memory', stackExpress('ours-memory')],
  ['ours memory, merge: false', 'memory', stackOurs('memory', { merge: false })],
  ['ours memory (default: merge)', 'memory', stackOurs('memory', {})],
  ['ours memory, lock: true', 'memory', stackOurs('memory', { lock: true })],
  ['express-session + connect-redis', 'redis', stackExpress('redis')],
  ['express-session + our RedisStore', 'redis', stackExpress('ours-redis')],
  ['ours redis, merge: false', 'redis', stackOurs('redis', { merge: false })],
  ['ours redis (default: merge)', 'redis', stackOurs('redis', {})],
  ['ours redis, lock: true', 'redis', stackOurs('redis', { lock: true })]
]

// ---------------------------------------------------------------- clients

function request (agent, port, method, path, cookie) {
  return new Promise((resolve, reject) => {
    const req = http.request({ agent, port, host: '127.0.0.1', method, path, headers: cookie ? { cookie } : {} }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (d) => { body += d })
      res.on('end', () => resolve({ status: res.statusCode, body, headers: res.headers }))
    })
    req.on('error', reject)
    req.end()
  })
}

async function signIn (port) {
  const r = await request(undefined, port, 'GET', '/login')
  const sc = r.headers['set-cookie']
  return { cookie: sc[0].split(';')[0], sid: r.body }
}

function openSocket (port, cookie) {
  const WebSocket = require('ws')
  const ws = new WebSocket(`ws://127.0.0.1:${port}/`, { headers: { cookie } })
  const waiting = new Map()
  let next = 0
  ws.on('message', (data) => {
    const m = JSON.parse(data)
    const w = waiting.get(m.id)
    waiting.delete(m.id)
    if (w) w(m)
  })
  return new Promise((resolve, reject) => {
    ws.on('error', reject)
    ws.on('open', () => resolve({
      call (msg) {
        const id = ++next
        return new Promise((resolve) => { waiting.set(id, resolve); ws.send(JSON.stringify({ ...msg, id })) })
      },
      close () { ws.close() }
    }))
  })
}

// runs n jobs with `inFlight` at a time
async function pool (n, inFlight, job) {
  let i = 0
  const errors = []
  async function worker () {
    while (i < n) {
      const mine = i++
      try { await job(mine) } catch (err) { errors.push(err) }
    }
  }
  await Promise.all(Array.from({ length: Math.min(inFlight, n) }, worker))
  return errors
}

function storeGet (store, sid) {
  return new Promise((resolve, reject) => store.get(sid, (err, s) => (err ? reject(err) : resolve(s))))
}

// ---------------------------------------------------------------- scenarios

async function scenarioCounters (port, store, c) {
  const { cookie, sid } = await signIn(port)
  const sock = await openSocket(port, cookie)
  const agent = new http.Agent({ keepAlive: true, maxSockets: c })
  const t0 = process.hrtime.bigint()
  let failed = 0
  await Promise.all([
    pool(K, c, async () => { const r = await request(agent, port, 'POST', '/inc?k=h', cookie); if (r.status !== 200) failed++ }),
    pool(K, c, async () => { const r = await sock.call({ op: 'inc', k: 'w' }); if (!r.ok) failed++ })
  ])
  const secs = Number(process.hrtime.bigint() - t0) / 1e9
  const s = await storeGet(store, sid)
  sock.close()
  agent.destroy()
  const lost = 2 * K - ((s && s.h) || 0) - ((s && s.w) || 0)
  return { lost, failed, opsPerSec: (2 * K) / secs }
}

async function scenarioKeys (port, store, c) {
  const errors = {}
  const { cookie, sid } = await signIn(port)
  const sock = await openSocket(port, cookie)
  const agent = new http.Agent({ keepAlive: true, maxSockets: c })
  const t0 = process.hrtime.bigint()
  let failed = 0
  await Promise.all([
    pool(K, c, async (i) => { const r = await request(agent, port, 'POST', `/set?k=h${i}&v=${i}`, cookie); if (r.status !== 200) { failed++; errors[r.body] = (errors[r.body] || 0) + 1 } }),
    pool(K, c, async (i) => { const r = await sock.call({ op: 'set', k: 'w' + i, v: i }); if (!r.ok) { failed++; errors[r.err] = (errors[r.err] || 0) + 1 } })
  ])
  const secs = Number(process.hrtime.bigint() - t0) / 1e9
  const s = (await storeGet(store, sid)) || {}
  sock.close()
  agent.destroy()
  let rolledBack = 0
  for (let i = 0; i < K; i++) {
    if (s['h' + i] !== i) rolledBack++
    if (s['w' + i] !== i) rolledBack++
  }
  if (failed) process.stderr.write(`  (b) failures: ${JSON.stringify(errors)}\n`)
  return { rolledBack, failed, opsPerSec: (2 * K) / secs }
}

// (d) no contention: 32 browsers, each its own session, 2K HTTP + websocket writes in all
async function scenarioSpread (port) {
  const n = 32
  const users = []
  for (let i = 0; i < n; i++) {
    const u = await signIn(port)
    u.sock = await openSocket(port, u.cookie)
    users.push(u)
  }
  const agent = new http.Agent({ keepAlive: true, maxSockets: n })
  const t0 = process.hrtime.bigint()
  await Promise.all([
    pool(K, n, async (i) => { await request(agent, port, 'POST', `/set?k=h${i}&v=${i}`, users[i % n].cookie) }),
    pool(K, n, async (i) => { await users[i % n].sock.call({ op: 'set', k: 'w' + i, v: i }) })
  ])
  const secs = Number(process.hrtime.bigint() - t0) / 1e9
  for (const u of users) u.sock.close()
  agent.destroy()
  return (2 * K) / secs
}

// (c): per trial a fresh sign-in; RPC writes keep `c` in flight; once some have loaded
// the session, logout over HTTP; after everything settled, is the session stored again?
async function scenarioLogout (port, store, c) {
  let resurrected = 0
  const n = Math.max(2 * c, 16)
  for (let t = 0; t < TRIALS; t++) {
    const { cookie, sid } = await signIn(port)
    const sock = await openSocket(port, cookie)
    let started = 0
    let loggedOut
    const logout = new Promise((resolve) => { loggedOut = resolve })
    const rpcs = pool(n, c, async (i) => {
      if (++started === Math.max(1, Math.floor(n / 4))) {
        request(undefined, port, 'POST', '/logout', cookie).then(loggedOut, loggedOut)
      }
      await sock.call({ op: 'set', k: 'w' + i, v: i })
    })
    await Promise.all([rpcs, logout])
    await delay(5)
    if (await storeGet(store, sid)) resurrected++
    sock.close()
  }
  return { resurrected, trials: TRIALS }
}

// ---------------------------------------------------------------- main

async function redisUp () {
  const { ping } = require('../__test__/helpers/redis')
  return ping(REDIS_PORT)
}

async function main () {
  const only = process.env.LOST_ONLY
  const haveRedis = await redisUp()
  const rows = []
  for (const [name, kind, make] of STACKS) {
    if (only && !name.includes(only)) continue
    if (kind === 'redis' && !haveRedis) { rows.push({ name, skipped: 'no Redis' }); continue }
    let stack
    try {
      stack = await make()
    } catch (err) {
      rows.push({ name, skipped: 'not available in this build' })
      continue
    }
    const server = http.createServer(stack.app)
    const wss = new (require('ws').WebSocketServer)({ server })
    wss.on('connection', (ws, req) => stack.onSocket(ws, req))
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
    const port = server.address().port
    const row = { name, levels: {} }
    try {
      row.spread = await scenarioSpread(port)
      for (const c of LEVELS) {
        const a = await scenarioCounters(port, stack.store, c)
        const b = await scenarioKeys(port, stack.store, c)
        const l = await scenarioLogout(port, stack.store, c)
        row.levels[c] = { a, b, l }
        process.stderr.write(`${name} @${c}: lost ${a.lost}/${2 * K}, rolled back ${b.rolledBack}/${2 * K}, ` +
          `resurrected ${l.resurrected}/${l.trials}, failed ${a.failed + b.failed}, ${Math.round(b.opsPerSec)} ops/s\n`)
      }
    } catch (err) {
      row.error = err.code || err.message
    }
    rows.push(row)
    wss.close()
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
    if (typeof stack.store.clear === 'function') await new Promise((resolve) => stack.store.clear(() => resolve()))
    if (stack.close) await stack.close()
    if (typeof stack.store.close === 'function' && !stack.close) await new Promise((resolve) => stack.store.close(() => resolve()))
  }
  print(rows)
}

function print (rows) {
  console.log(`## Lost updates: HTTP route + websocket RPC on one session (K = ${K} writes per channel, ${TRIALS} logout trials)\n`)
  console.log('In flight per channel: 1 / 8 / 32. Lost increments and rolled-back keys out of ' + 2 * K +
    '; resurrected sessions out of ' + TRIALS + ' trials; ops/s of scenario (b), both channels together.\n')
  console.log('| stack | lost increments (a) | rolled-back keys (b) | resurrected (c) | failed writes | ops/s (b) | ops/s, 32 sessions (d) |')
  console.log('|---|---|---|---|---|---|---|')
  const base = {}
  for (const r of rows) {
    if (r.skipped || r.error) { console.log(`| ${r.name} | ${r.skipped || 'error: ' + r.error} | | | | | |`); continue }
    const L = LEVELS.map((c) => r.levels[c]).filter(Boolean)
    const j = (f) => L.map(f).join(' / ')
    console.log(`| ${r.name} | ${j((x) => x.a.lost)} | ${j((x) => x.b.rolledBack)} | ${j((x) => x.l.resurrected)} | ` +
      `${j((x) => x.a.failed + x.b.failed)} | ${j((x) => Math.round(x.b.opsPerSec))} | ${Math.round(r.spread)} |`)
    if (r.name.includes('merge: false')) base[r.name.split(',')[0]] = [...L.map((x) => x.b.opsPerSec), r.spread]
  }
  console.log('\nCost (ops/s relative to `merge: false` on the same store: (b) at each concurrency on one session, and (d)):\n')
  for (const r of rows) {
    if (r.skipped || r.error || r.name.includes('merge: false')) continue
    const b = base[r.name.split(/[ ,]/).slice(0, 2).join(' ')]
    if (!b) continue
    const L = LEVELS.map((c) => r.levels[c]).filter(Boolean)
    console.log(`- ${r.name}: ${L.map((x, i) => (x.b.opsPerSec / b[i]).toFixed(2) + '×').join(' / ')} on one session; ` +
      `${(r.spread / b[L.length]).toFixed(2)}× over 32 sessions`)
  }
  console.log()
}

main().catch((err) => { console.error(err); process.exit(1) })
