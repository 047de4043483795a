'use strict'
// The express-session middleware (and native-session's session(), which uses getJSON /
// setJSON) driving MemoryStore over real HTTP: a node:http server on port 0, fetch with
// the cookie carried by hand.
const test = require('node:test')
const assert = require('node:assert')
const http = require('node:http')
const express = require('express')
const expressSession = require('express-session')
const signature = require('cookie-signature')
const { MemoryStore, session: nativeSession } = require('..')

const MIDDLEWARES = [['express-session', expressSession], ['native session()', nativeSession]]

async function serve (middleware, store, options) {
  const app = express()
  app.use(middleware({ store, secret: 'tobi', resave: false, saveUninitialized: false, ...options }))
  app.get('/set', (req, res) => { req.session.v = req.query.v; req.session.name = 'Zoë 🎉'; res.json({ id: req.sessionID }) })
  app.get('/get', (req, res) => res.json({ id: req.sessionID, v: req.session.v, name: req.session.name }))
  app.get('/destroy', (req, res, next) => req.session.destroy((err) => err ? next(err) : res.json({})))
  app.get('/regenerate', (req, res, next) => {
    const old = req.sessionID
    req.session.regenerate((err) => {
      if (err) return next(err)
      req.session.v = 'fresh'
      res.json({ old, id: req.sessionID })
    })
  })
  app.get('/reload', (req, res, next) => req.session.reload((err) => err ? next(err) : res.json({ v: req.session.v })))
  app.use((err, req, res, next) => res.status(500).json({ error: err.message }))
  const server = http.createServer(app)
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const base = `http://127.0.0.1:${server.address().port}`
  return {
    async get (path, cookie) {
      const res = await fetch(base + path, { headers: cookie ? { cookie } : {} })
      const set = res.headers.get('set-cookie')
      return { status: res.status, body: await res.json(), cookie: set ? set.split(';')[0] : undefined, setCookie: set }
    },
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(resolve) })
  }
}

const until = async (what, fn) => {
  const t0 = Date.now()
  while (!(await fn())) {
    assert.ok(Date.now() - t0 < 20000, `timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

for (const [name, middleware] of MIDDLEWARES) {
  test(`${name}: new session, persistence, resave:false + touch, destroy`, async () => {
    const store = new MemoryStore()
    const app = await serve(middleware, store, { cookie: { maxAge: 60000 } })
    try {
      const first = await app.get('/get')
      assert.strictEqual(first.cookie, undefined, 'saveUninitialized: false, nothing changed: no cookie')
      assert.strictEqual(await store.length(), 0)

      const set = await app.get('/set?v=1')
      assert.match(set.cookie, /^connect\.sid=s%3A/)
      assert.deepStrictEqual(await store.ids(), [set.body.id])
      const stored = await store.get(set.body.id)
      assert.strictEqual(stored.v, '1')
      assert.strictEqual(stored.name, 'Zoë 🎉')

      const got = await app.get('/get', set.cookie)
      assert.deepStrictEqual(got.body, { id: set.body.id, v: '1', name: 'Zoë 🎉' })

      // unmodified + resave:false → the store is touched: the stored expiry moves on
      const before = new Date(stored.cookie.expires).getTime()
      await until('a later expiry', async () => {
        await app.get('/get', set.cookie)
        return new Date((await store.get(set.body.id)).cookie.expires).getTime() > before
      })
      assert.strictEqual((await store.get(set.body.id)).v, '1', 'touch kept the data')

      await app.get('/destroy', set.cookie)
      assert.strictEqual(await store.get(set.body.id), undefined)
      const after = await app.get('/get', set.cookie)
      assert.strictEqual(after.body.v, undefined)
      assert.notStrictEqual(after.body.id, set.body.id)
    } finally { await app.close(); await store.close() }
  })

  test(`${name}: rolling sends the cookie on every response`, async () => {
    const store = new MemoryStore()
    const app = await serve(middleware, store, { rolling: true, cookie: { maxAge: 60000 } })
    try {
      const set = await app.get('/set?v=2')
      const again = await app.get('/get', set.cookie)
      assert.strictEqual(again.cookie, set.cookie)
      assert.match(again.setCookie, /Expires=/)
      assert.strictEqual(again.body.v, '2')
    } finally { await app.close(); await store.close() }
  })

  test(`${name}: a short maxAge expires the session in the store`, async () => {
    const store = new MemoryStore()
    const app = await serve(middleware, store, { cookie: { maxAge: 300 } })
    try {
      const set = await app.get('/set?v=3')
      assert.strictEqual((await app.get('/get', set.cookie)).body.v, '3')
      await until('expiry', async () => (await store.get(set.body.id)) === undefined)
      const later = await app.get('/get', set.cookie)
      assert.strictEqual(later.body.v, undefined)
      assert.notStrictEqual(later.body.id, set.body.id)
    } finally { await app.close(); await store.close() }
  })

  test(`${name}: regenerate and reload`, async () => {
    const store = new MemoryStore()
    const app = await serve(middleware, store, {})
    try {
      const set = await app.get('/set?v=4')
      const regen = await app.get('/regenerate', set.cookie)
      assert.strictEqual(regen.body.old, set.body.id)
      assert.notStrictEqual(regen.body.id, set.body.id)
      assert.strictEqual(await store.get(set.body.id), undefined, 'old session destroyed')
      assert.strictEqual((await store.get(regen.body.id)).v, 'fresh')
      assert.strictEqual((await app.get('/get', regen.cookie)).body.v, 'fresh')

      // another writer changes the stored session; reload sees it
      const s = await store.get(regen.body.id)
      s.v = 'changed elsewhere'
      await store.set(regen.body.id, s)
      assert.strictEqual((await app.get('/reload', regen.cookie)).body.v, 'changed elsewhere')
    } finally { await app.close(); await store.close() }
  })

  test(`${name}: secret rotation and tampered cookies`, async () => {
    const store = new MemoryStore()
    const old = await serve(middleware, store, { secret: 'old' })
    const rotated = await serve(middleware, store, { secret: ['new', 'old'] })
    const only = await serve(middleware, store, { secret: 'new' })
    try {
      const set = await old.get('/set?v=5')
      assert.strictEqual((await rotated.get('/get', set.cookie)).body.v, '5', 'old secret still verifies')
      assert.strictEqual((await only.get('/get', set.cookie)).body.v, undefined, 'dropped secret: not accepted')

      const sid = set.body.id
      const tampered = 'connect.sid=' + encodeURIComponent('s:' + sid + '.' + signature.sign(sid, 'wrong').split('.')[1])
      assert.strictEqual((await old.get('/get', tampered)).body.v, undefined)
      const other = sid.slice(0, -1) + (sid.at(-1) === 'x' ? 'y' : 'x') // always another id
      const forged = 'connect.sid=' + encodeURIComponent('s:' + other + '.' + set.cookie.split('.').pop())
      assert.strictEqual((await old.get('/get', forged)).body.v, undefined)
      assert.strictEqual((await old.get('/get', set.cookie)).body.v, '5', 'the real cookie still works')
    } finally { await old.close(); await rotated.close(); await only.close(); await store.close() }
  })
}
