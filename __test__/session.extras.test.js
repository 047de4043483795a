'use strict'
// What native-session's session() adds beyond express-session (no oracle for these):
// Promise-returning Session methods, regenerate({ keep: true }), and the exports.
const test = require('node:test')
const assert = require('node:assert')
const http = require('node:http')
const express = require('express')
const expressSession = require('express-session')
const { session } = require('../lib/session')
const nativeSession = require('..')

async function serve (options, routes) {
  const app = express()
  app.use(session({ secret: 's', resave: false, saveUninitialized: false, ...options }))
  routes(app)
  app.use((err, req, res, next) => res.status(500).send('error: ' + err.message))
  const server = http.createServer(app)
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = server.address().port
  return {
    get: (path, cookie) => new Promise((resolve, reject) => {
      http.get({ host: '127.0.0.1', port, path, headers: cookie ? { cookie } : {}, agent: false }, (res) => {
        let body = ''
        res.on('data', (d) => { body += d })
        res.on('end', () => resolve({ status: res.statusCode, body, cookie: (res.headers['set-cookie'] || [''])[0].split(';')[0] }))
      }).on('error', reject)
    }),
    close: () => new Promise((resolve) => server.close(resolve))
  }
}

test('exports: session.Store/Session/Cookie/MemoryStore, and from the package root', () => {
  assert.strictEqual(nativeSession.session, session)
  assert.strictEqual(session.Store, expressSession.Store)
  assert.strictEqual(session.Cookie, expressSession.Cookie)
  assert.strictEqual(typeof session.MemoryStore, 'function')
  assert.ok(new session.MemoryStore() instanceof expressSession.Store)
  const s = new session.Session({ sessionID: 'x' }, { a: 1 })
  assert.ok(s instanceof expressSession.Session)
  assert.strictEqual(s.id, 'x')
  assert.deepStrictEqual({ ...s }, { a: 1 })
})

test('option validation: the same errors as express-session', () => {
  assert.throws(() => session({ genid: 1, secret: 's' }), { name: 'TypeError', message: 'genid option must be a function' })
  assert.throws(() => session({ unset: 'x', secret: 's' }), { name: 'TypeError', message: 'unset option must be "destroy" or "keep"' })
  assert.throws(() => session({ secret: [] }), { name: 'TypeError', message: 'secret option array must contain one or more strings' })
})

test('the default genid: 32 characters of base64url, unique', async () => {
  const app = await serve({ saveUninitialized: true }, (app) => app.get('/', (req, res) => res.send(req.sessionID)))
  try {
    const ids = new Set()
    for (let i = 0; i < 300; i++) {
      const { body } = await app.get('/')
      assert.match(body, /^[A-Za-z0-9_-]{32}$/)
      ids.add(body)
    }
    assert.strictEqual(ids.size, 300)
  } finally { await app.close() }
})

test('Session methods return Promises without a callback, the session with one', async () => {
  const log = []
  const app = await serve({}, (app) => {
    app.get('/p', async (req, res, next) => {
      try {
        req.session.n = 1
        const saved = await req.session.save()
        log.push(saved === req.session)
        req.session.n = 2
        const reloaded = await req.session.reload()
        log.push(reloaded === req.session, req.session.n)
        const old = req.sessionID
        const fresh = await req.session.regenerate()
        log.push(fresh === req.session, req.sessionID !== old, req.session.n)
        req.session.m = 3
        await req.session.save()
        const id = req.sessionID
        assert.strictEqual(await req.session.destroy(), undefined)
        log.push(req.session === undefined)
        res.send(id)
      } catch (err) { next(err) }
    })
    app.get('/chain', (req, res) => {
      req.session.n = 1
      const ret = req.session.save(() => res.send(String(ret === req.session)))
    })
  })
  try {
    const r = await app.get('/p')
    assert.strictEqual(r.status, 200, r.body)
    assert.deepStrictEqual(log, [true, true, 1, true, true, undefined, true])
    assert.strictEqual((await app.get('/chain')).body, 'true')
  } finally { await app.close() }
})

test('a failing store: the Promise rejects; fire-and-forget is no unhandled rejection', async () => {
  const store = new expressSession.MemoryStore()
  store.set = (sid, sess, cb) => setImmediate(cb, new Error('boom'))
  let unhandled = 0
  const onUnhandled = () => { unhandled++ }
  process.on('unhandledRejection', onUnhandled)
  const app = await serve({ store }, (app) => {
    app.get('/await', async (req, res) => {
      req.session.n = 1
      try { await req.session.save(); res.send('saved') } catch (err) { res.send('rejected: ' + err.message) }
    })
    app.get('/forget', (req, res) => { req.session.save(); setTimeout(() => res.send('ok'), 20) })
  })
  try {
    assert.strictEqual((await app.get('/await')).body, 'rejected: boom')
    assert.strictEqual((await app.get('/forget')).body, 'ok')
    await new Promise((resolve) => setTimeout(resolve, 50))
    assert.strictEqual(unhandled, 0)
  } finally {
    process.off('unhandledRejection', onUnhandled)
    await app.close()
  }
})

test('regenerate({ keep: true }) keeps the data under a new id (express-session #425)', async () => {
  const app = await serve({}, (app) => {
    app.get('/set', (req, res) => { req.session.cart = [1, 2]; req.session.user = 'anon'; res.send('ok') })
    app.get('/login', (req, res, next) => {
      const old = req.sessionID
      req.session.regenerate({ keep: true }, (err) => {
        if (err) return next(err)
        req.session.user = 'alice'
        res.send(JSON.stringify({ changed: old !== req.sessionID, cart: req.session.cart }))
      })
    })
    app.get('/get', (req, res) => res.send(JSON.stringify({ cart: req.session.cart, user: req.session.user })))
  })
  try {
    const c = (await app.get('/set')).cookie
    const r = await app.get('/login', c)
    assert.deepStrictEqual(JSON.parse(r.body), { changed: true, cart: [1, 2] })
    assert.notStrictEqual(r.cookie, c)
    assert.deepStrictEqual(JSON.parse((await app.get('/get', r.cookie)).body), { cart: [1, 2], user: 'alice' })
    assert.deepStrictEqual(JSON.parse((await app.get('/get', c)).body), {}) // the old id is gone
  } finally { await app.close() }
})

test("res.end(chunk, encoding, callback): the response goes out once, after the save, and the callback runs", async () => {
  const store = new expressSession.MemoryStore()
  const order = []
  const set = store.set
  store.set = function (sid, sess, cb) { order.push('set'); return set.call(this, sid, sess, (err) => { order.push('saved'); cb(err) }) }
  let called = 0
  const app = await serve({ store }, (app) => {
    app.get('/', (req, res) => {
      req.session.n = 1
      res.on('finish', () => order.push('finish'))
      res.end('done', 'utf8', () => { called++ })
      order.push('end returned')
    })
  })
  try {
    const r = await app.get('/')
    assert.strictEqual(r.body, 'done')
    for (let i = 0; i < 100 && called === 0; i++) await new Promise((resolve) => setTimeout(resolve, 10))
    assert.strictEqual(called, 1)
    assert.deepStrictEqual(order, ['set', 'end returned', 'saved', 'finish'])
  } finally { await app.close() }
})

test('a store that calls back twice: one response, the session saved, the server fine; explicit saves after the response still work', async () => {
  const store = new session.MemoryStore()
  const set = store.set.bind(store)
  store.set = (sid, sess, cb) => set(sid, sess, (err) => { cb(err); cb(err) })
  let late, sid
  const s = await serve({ store }, (app) => {
    app.get('/', (req, res) => {
      req.session.n = (req.session.n || 0) + 1
      sid = req.sessionID
      res.on('finish', () => { late = req.session })
      res.end(String(req.session.n))
    })
  })
  try {
    const a = await s.get('/')
    assert.strictEqual(a.body, '1')
    const b = await s.get('/', a.cookie)
    assert.strictEqual(b.body, '2')
    // the session object outlives its request: saving it later stores it
    late.extra = true
    await late.save()
    const c = await s.get('/', a.cookie)
    assert.strictEqual(c.body, '3')
    const stored = await new Promise((resolve, reject) => store.get(sid, (e, v) => e ? reject(e) : resolve(v)))
    assert.strictEqual(stored.extra, true)
  } finally {
    await s.close()
  }
})
