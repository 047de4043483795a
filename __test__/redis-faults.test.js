'use strict'
// RedisStore when Redis fails, on private redis-servers this file starts (and kills by pid):
// a closed port, the server killed under load and restarted, the server paused (SIGSTOP) past
// the command timeout. Errors carry a stable code and arrive within the command timeout; the
// store recovers without a restart; what it acknowledged after the restart is there.
const test = require('node:test')
const assert = require('node:assert')
const http = require('node:http')
const express = require('express')
const session = require('express-session')
const { createClient } = require('redis')
const { RedisStore } = require('..')
// the connection these tests use: the default, or 'tokio' (redis-*.tokio.test.js)
const TRANSPORT = process.env.TEST_REDIS_TRANSPORT || undefined
const { startServer, freePort, waitFor, hasRedisServer } = require('./helpers/redis-server')

const TIMEOUT = 800 // commandTimeout used here
const SLACK = 1500 // scheduling slack on a loaded machine; still far below "hangs"
const OUTAGE_CODES = ['ERR_REDIS_UNAVAILABLE', 'ERR_REDIS_TIMEOUT']

function skipWithout (t) {
  if (hasRedisServer()) return false
  if (process.env.CI === 'true') throw new Error('redis-server is not installed and CI=true')
  t.skip('redis-server is not installed')
  return true
}

async function timed (p) {
  const t0 = Date.now()
  try {
    return { value: await p, ms: Date.now() - t0 }
  } catch (err) {
    return { err, ms: Date.now() - t0 }
  }
}

function once (emitter, name) {
  return new Promise((resolve) => emitter.once(name, resolve))
}

test('a store pointed at a closed port: coded errors within the timeout, no crash', async (t) => {
  if (skipWithout(t)) return
  const port = await freePort()
  const store = new RedisStore({ transport: TRANSPORT, port, commandTimeout: TIMEOUT, connectTimeout: 500 })
  t.after(() => store.close())
  const down = once(store, 'unavailable')
  for (const op of [() => store.get('a'), () => store.set('a', { cookie: {} }), () => store.length(), () => store.all(), () => store.destroy('a'), () => store.touch('a', { cookie: {} })]) {
    const r = await timed(op())
    assert.ok(r.err, 'fails')
    assert.ok(OUTAGE_CODES.includes(r.err.code), r.err.code + ' ' + r.err.message)
    assert.ok(r.ms < TIMEOUT + SLACK, `settled in ${r.ms} ms`)
  }
  const err = await down
  assert.ok(OUTAGE_CODES.includes(err.code))
  assert.strictEqual(store.available, false)
  const viaCb = await new Promise((resolve) => store.get('a', (e) => resolve(e)))
  assert.ok(OUTAGE_CODES.includes(viaCb.code))
})

test('redis-server killed under load and restarted: errors, then recovery, acknowledged writes kept', async (t) => {
  if (skipWithout(t)) return
  const server = await startServer()
  t.after(() => server.stop())
  const store = new RedisStore({ transport: TRANSPORT, port: server.port, prefix: 'fault:', commandTimeout: TIMEOUT, connectTimeout: 500 })
  t.after(() => store.close())
  const events = []
  store.on('unavailable', (e) => events.push(['down', e.code]))
  store.on('available', () => events.push(['up']))

  let running = true
  const failures = []
  let ok = 0
  let seq = 0
  const acked = new Map() // sid -> value the store acknowledged
  async function worker () {
    while (running) {
      const sid = 'w' + (seq++ % 200)
      const value = seq
      const r = await timed(store.set(sid, { cookie: {}, value }))
      if (r.err) {
        failures.push(r)
        await new Promise((resolve) => setTimeout(resolve, 20))
      } else {
        ok++
        acked.set(sid, value)
        const g = await timed(store.get(sid))
        if (g.err) failures.push(g)
      }
    }
  }
  const workers = Array.from({ length: 16 }, worker)
  await waitFor(() => ok > 200, 15000, 'load before the kill')
  await server.kill('SIGKILL')
  await waitFor(() => events.some((e) => e[0] === 'down'), 10000, 'the unavailable event')
  await waitFor(() => failures.length > 20, 10000, 'failures during the outage')
  const failedBeforeRestart = failures.length
  await server.launch() // same port, empty (no persistence)
  await waitFor(() => events.some((e) => e[0] === 'up'), 15000, 'the available event')
  acked.clear() // the restarted server is empty: only what is acknowledged from now on counts
  const okAtRestart = ok
  await waitFor(() => ok > okAtRestart + 200, 15000, 'service after the restart')
  running = false
  await Promise.all(workers)

  assert.ok(failedBeforeRestart > 0)
  for (const f of failures) {
    assert.ok(OUTAGE_CODES.includes(f.err.code), `code ${f.err.code}: ${f.err.message}`)
    assert.ok(f.ms < TIMEOUT + SLACK, `failed after ${f.ms} ms`)
  }
  assert.deepStrictEqual(events.map((e) => e[0]).slice(0, 2), ['down', 'up'])
  // every write acknowledged after the restart is in Redis, with the acknowledged value
  const client = createClient({ url: `redis://127.0.0.1:${server.port}` })
  await client.connect()
  assert.ok(acked.size > 0)
  for (const [sid, value] of acked) {
    const raw = await client.get('fault:' + sid)
    assert.ok(raw, `acknowledged ${sid} is there`)
    assert.ok(JSON.parse(raw).value >= value, `${sid} holds its acknowledged value or a later one`)
  }
  await client.quit()
})

test('redis-server paused past the command timeout: ERR_REDIS_TIMEOUT, then service resumes', async (t) => {
  if (skipWithout(t)) return
  const server = await startServer()
  t.after(() => server.stop())
  const store = new RedisStore({ transport: TRANSPORT, port: server.port, prefix: 'pause:', commandTimeout: TIMEOUT })
  t.after(() => store.close())
  await store.set('a', { cookie: {}, v: 1 })
  server.pause()
  let resumed = false
  t.after(() => { if (!resumed) server.resume() })
  const results = await Promise.all(Array.from({ length: 20 }, (_, i) => timed(i % 2 ? store.get('a') : store.set('b' + i, { cookie: {} }))))
  for (const r of results) {
    assert.ok(r.err, 'fails while paused')
    assert.strictEqual(r.err.code, 'ERR_REDIS_TIMEOUT', r.err.message)
    assert.ok(r.ms >= TIMEOUT - 50 && r.ms < TIMEOUT + SLACK, `settled in ${r.ms} ms`)
  }
  const up = once(store, 'available')
  server.resume()
  resumed = true
  await up
  await waitFor(async () => !(await timed(store.get('a'))).err, 10000, 'service after SIGCONT')
  assert.strictEqual((await store.get('a')).v, 1)
  await store.set('c', { cookie: {}, v: 3 })
  assert.strictEqual((await store.get('c')).v, 3)
})

test('express-session during an outage: requests fail loudly (500), never a silent empty session', async (t) => {
  if (skipWithout(t)) return
  const server = await startServer()
  t.after(() => server.stop())
  const store = new RedisStore({ transport: TRANSPORT, port: server.port, commandTimeout: TIMEOUT })
  t.after(() => store.close())
  const app = express()
  app.use(session({ store, secret: 's', resave: false, saveUninitialized: false }))
  app.get('/', (req, res) => { req.session.n = (req.session.n || 0) + 1; res.json({ n: req.session.n }) })
  app.use((err, req, res, next) => res.status(500).json({ code: err.code }))
  const web = http.createServer(app)
  await new Promise((resolve) => web.listen(0, '127.0.0.1', resolve))
  t.after(() => web.close())
  const url = `http://127.0.0.1:${web.address().port}/`
  const first = await fetch(url)
  const cookie = first.headers.get('set-cookie').split(';')[0]
  assert.strictEqual((await first.json()).n, 1)
  await server.kill()
  const during = await fetch(url, { headers: { cookie } })
  assert.strictEqual(during.status, 500)
  assert.ok(OUTAGE_CODES.includes((await during.json()).code))
  await server.launch()
  // the session itself is gone with the (non-persistent) server, but the store serves again
  await waitFor(async () => (await fetch(url, { headers: { cookie } })).status === 200, 15000, 'service')
})

test('disconnectEvents: true also emits express-session\'s disconnect/connect', async (t) => {
  if (skipWithout(t)) return
  const server = await startServer()
  t.after(() => server.stop())
  const store = new RedisStore({ transport: TRANSPORT, port: server.port, commandTimeout: TIMEOUT, disconnectEvents: true })
  t.after(() => store.close())
  await store.length()
  const disconnected = once(store, 'disconnect')
  await server.kill()
  await store.get('x').catch(() => {})
  await disconnected
  const connected = once(store, 'connect')
  await server.launch()
  await connected // the store probes while down: no request needed
  assert.strictEqual(store.available, true)
})

test('connection options: { host, port, username, password, db } and a url with them beside it', async (t) => {
  if (skipWithout(t)) return
  const server = await startServer({ args: ['--requirepass', 'top secret', '--databases', '4'] })
  t.after(() => server.stop())
  const { spawnSync } = require('node:child_process')
  const cli = (...a) => spawnSync('redis-cli', ['-p', String(server.port), '--user', 'default', '--pass', 'top secret', '--no-auth-warning', ...a], { encoding: 'utf8' }).stdout.trim()
  cli('ACL', 'SETUSER', 'app', 'on', '>app pass', '~*', '+@all')
  const stores = [
    new RedisStore({ transport: TRANSPORT, host: '127.0.0.1', port: server.port, password: 'top secret', db: 2, prefix: 'o1:' }),
    new RedisStore({ transport: TRANSPORT, host: 'localhost', port: server.port, username: 'app', password: 'app pass', db: 3, prefix: 'o2:' }),
    new RedisStore({ transport: TRANSPORT, url: `redis://127.0.0.1:${server.port}`, username: 'app', password: 'app pass', db: 1, prefix: 'o3:' }),
    new RedisStore({ transport: TRANSPORT, url: `redis://app:${encodeURIComponent('app pass')}@127.0.0.1:${server.port}/3`, prefix: 'o4:' })
  ]
  t.after(() => Promise.all(stores.map((s) => s.close())))
  for (const s of stores) await s.set('x', { cookie: {}, p: s.prefix })
  assert.strictEqual(cli('-n', '2', 'GET', 'o1:x'), JSON.stringify({ cookie: {}, p: 'o1:' }))
  assert.strictEqual(cli('-n', '3', 'EXISTS', 'o2:x'), '1')
  assert.strictEqual(cli('-n', '1', 'EXISTS', 'o3:x'), '1')
  assert.strictEqual(cli('-n', '3', 'EXISTS', 'o4:x'), '1')
  assert.strictEqual(cli('-n', '0', 'DBSIZE'), '0')
  // a wrong password: a coded error, not a hang
  const wrong = new RedisStore({ transport: TRANSPORT, port: server.port, password: 'nope', commandTimeout: TIMEOUT })
  t.after(() => wrong.close())
  const r = await timed(wrong.get('x'))
  assert.strictEqual(r.err && r.err.code, 'ERR_REDIS_AUTH', String(r.err))
  assert.ok(r.ms < TIMEOUT + SLACK)
})

test('scripts sent in a pipeline with reads and writes: after SCRIPT FLUSH (NOSCRIPT) they are sent again as EVAL, every result right', async (t) => {
  if (skipWithout(t)) return
  const server = await startServer()
  t.after(() => server.stop())
  const store = new RedisStore({ transport: TRANSPORT, port: server.port, prefix: 'nos:' })
  t.after(() => store.close())
  const expires = new Date(Date.now() + 86400000).toISOString()
  const sess = { cookie: { expires } }
  const j = (n) => JSON.stringify({ cookie: { expires }, n })
  assert.strictEqual(await store.casJSON('a', null, j(0), sess, null), 'ok') // the script is loaded
  const client = createClient({ url: `redis://127.0.0.1:${server.port}` })
  await client.connect()
  for (let round = 1; round <= 3; round++) {
    assert.strictEqual(await client.sendCommand(['SCRIPT', 'FLUSH']), 'OK')
    // one tick: a read, a compare-and-set that wins, one that conflicts, a new session, a write
    const [got, won, lost, fresh, plain] = await Promise.all([
      store.getJSON('a'),
      store.casJSON('a', j(round - 1), j(round), sess, null),
      store.casJSON('a', j(999), j(-1), sess, null),
      store.casJSON('b' + round, null, j(round), sess, null),
      store.setJSON('c', j(round), sess)
    ])
    assert.strictEqual(got, j(round - 1))
    assert.strictEqual(won, 'ok')
    assert.strictEqual(lost, j(round)) // the conflict hands back what is stored now
    assert.strictEqual(fresh, 'ok')
    assert.ok(plain == null)
    assert.strictEqual(await store.getJSON('a'), j(round))
    assert.strictEqual(await store.getJSON('b' + round), j(round))
    assert.strictEqual(await store.getJSON('c'), j(round))
  }
  await client.quit() // while its server is up (a quit to a stopped server never answers)
})

test('a server that answers with something that is not Redis: a coded error within the timeout, nothing hangs', async (t) => {
  const net = require('node:net')
  const sockets = new Set()
  const server = net.createServer((s) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
    s.on('error', () => {})
    s.on('data', () => s.write('HTTP/1.1 400 Bad Request\r\n\r\n'))
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(() => { for (const s of sockets) s.destroy(); server.close() })
  const store = new RedisStore({ transport: TRANSPORT, port: server.address().port, commandTimeout: TIMEOUT, connectTimeout: TIMEOUT })
  t.after(() => store.close())
  const results = await Promise.all([timed(store.get('a')), timed(store.set('b', { cookie: {} })), timed(store.get('c'))])
  for (const r of results) {
    assert.ok(r.err, 'fails')
    assert.match(r.err.code, /^ERR_REDIS_/, String(r.err))
    if (store.transport === 'node') assert.strictEqual(r.err.code, 'ERR_REDIS_BAD_DATA', r.err.message)
    assert.ok(r.ms < TIMEOUT + SLACK, `settled in ${r.ms} ms`)
  }
})
