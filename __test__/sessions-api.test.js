'use strict'
// createSessions(): options, stores, the production rules, and the websocket-side request
// and Session API (callbacks and Promises), against real HTTP servers and ws clients.
const test = require('node:test')
const assert = require('node:assert')
const { once } = require('node:events')
const expressSession = require('express-session')
const { createSessions, MemoryStore } = require('..')
const { createApp, Browser } = require('./helpers/sessions-app')

// A signed-in browser and a socket of the same session, on a fresh app.
async function signedIn (t, opts, setup) {
  const sessions = createSessions(opts)
  if (setup) setup(sessions)
  const app = await createApp(sessions)
  t.after(() => app.close())
  const browser = new Browser(app.url)
  await browser.fetch('POST', '/login?user=alice')
  const socket = sessions.socket({ headers: { cookie: browser.cookie } })
  return { sessions, app, browser, socket }
}

function withEnv (t, env) {
  const old = process.env.NODE_ENV
  process.env.NODE_ENV = env
  t.after(() => { if (old === undefined) delete process.env.NODE_ENV; else process.env.NODE_ENV = old })
}

test('defaults follow the SocketStream guide', () => {
  const sessions = createSessions()
  assert.strictEqual(sessions.options.name, 'connect.sid')
  assert.strictEqual(sessions.options.secret, 'SocketStream')
  assert.strictEqual(sessions.options.maxAge, 30 * 24 * 60 * 60 * 1000)
  const store = sessions.store.get()
  assert.ok(store instanceof expressSession.Store)
  assert.ok(store instanceof MemoryStore)
  assert.strictEqual(sessions.store.get(), store)
})

test('options change until the first request, then are fixed', async (t) => {
  const sessions = createSessions({ secret: 'first' })
  const mw = sessions.http()
  sessions.options.name = 'app.sid'
  sessions.options.maxAge = 60000
  sessions.options.sameSite = 'lax'
  sessions.options.secret = 'second'
  assert.throws(() => { sessions.options.maxAg = 1 }, { name: 'TypeError', message: /unknown option "maxAg"/ })
  const app = await createApp(sessions)
  t.after(() => app.close())
  assert.strictEqual(typeof mw, 'function')
  const b = new Browser(app.url)
  const res = await b.fetch('POST', '/login?user=a')
  assert.match(res.setCookie[0], /^app\.sid=s%3A[^;]+; Path=\/; Expires=[^;]+; HttpOnly; SameSite=Lax$/)
  const expires = Date.parse(/Expires=([^;]+)/.exec(res.setCookie[0])[1])
  assert.ok(Math.abs(expires - Date.now() - 60000) < 5000)
  assert.ok(b.jar.get('app.sid').includes('.'))
  assert.strictEqual((await sessions.load({ headers: { cookie: b.cookie } })).user, 'a')
  assert.throws(() => { sessions.options.maxAge = 1 }, { code: 'ERR_SESSIONS_LOCKED' })
  assert.throws(() => { sessions.options.secret = 'x' }, { code: 'ERR_SESSIONS_LOCKED', message: /before serving/ })
  assert.throws(() => sessions.store.use('memory'), { code: 'ERR_SESSIONS_LOCKED' })
  assert.strictEqual(sessions.options.maxAge, 60000)
})

test('store.use: names, instances, and bad input', () => {
  const sessions = createSessions()
  const custom = new expressSession.MemoryStore()
  assert.strictEqual(sessions.store.use(custom), custom)
  assert.strictEqual(sessions.store.get(), custom)
  const mem = sessions.store.use('memory')
  assert.strictEqual(sessions.store.get(), mem)
  assert.throws(() => sessions.store.use('mongo'), { name: 'TypeError', message: /unknown store "mongo"/ })
  assert.throws(() => sessions.store.use({}), { name: 'TypeError', message: /get, set and destroy/ })
  assert.throws(() => sessions.store.use('memory', 5), { name: 'TypeError' })
  assert.throws(() => createSessions(5), { name: 'TypeError' })
})

test('NODE_ENV=production: the default secret is refused with an error that says how to set one', async (t) => {
  withEnv(t, 'production')
  const warnings = []
  const onWarning = (w) => warnings.push(w)
  process.on('warning', onWarning)
  t.after(() => process.off('warning', onWarning))

  const sessions = createSessions() // still succeeds
  const app = await createApp(sessions)
  t.after(() => app.close())
  const b = new Browser(app.url)
  const res = await b.fetch('POST', '/login?user=a')
  assert.strictEqual(res.status, 500)
  assert.strictEqual(res.body.code, 'ERR_SESSIONS_DEFAULT_SECRET')
  assert.match(res.body.error, /sessions\.options\.secret = process\.env\.SESSION_SECRET/)
  assert.deepStrictEqual(res.setCookie, [])
  // a cookie signed with the public default secret is not accepted either
  const forged = 's%3A' + encodeURIComponent(require('cookie-signature').sign('victim', 'SocketStream'))
  const socket = sessions.socket({ headers: { cookie: `connect.sid=${forged}` } })
  assert.strictEqual(socket.sessionId, undefined)
  await assert.rejects(socket.request().use('session'), { code: 'ERR_SESSIONS_DEFAULT_SECRET' })
  await assert.rejects(sessions.load({ headers: { cookie: `connect.sid=${forged}` } }), { code: 'ERR_SESSIONS_DEFAULT_SECRET' })
  // also in a rotation list
  const rotating = createSessions({ secret: ['mine', 'SocketStream'] })
  await assert.rejects(rotating.load({ headers: {} }), { code: 'ERR_SESSIONS_DEFAULT_SECRET' })
  await new Promise((resolve) => setImmediate(resolve))
  assert.ok(warnings.some((w) => w.code === 'ERR_SESSIONS_DEFAULT_SECRET'))
})

test('NODE_ENV=production: an own secret works, with a warning for the memory store', async (t) => {
  withEnv(t, 'production')
  const warnings = []
  const onWarning = (w) => warnings.push(w)
  process.on('warning', onWarning)
  t.after(() => process.off('warning', onWarning))
  const { socket } = await signedIn(t, undefined, (s) => { s.options.secret = 'a long random production secret' })
  assert.strictEqual((await socket.request().use('session')).user, 'alice')
  await new Promise((resolve) => setImmediate(resolve))
  const w = warnings.find((w) => w.code === 'NATIVE_SESSION_MEMORY_STORE')
  assert.ok(w)
  assert.match(w.message, /use a persistent store/)
})

test('req.use(session): fresh per request, Promise and callback, clear errors', async (t) => {
  const { socket, browser } = await signedIn(t)
  assert.ok(socket.sessionId)
  const req = socket.request()
  assert.strictEqual(req.session, undefined) // not loaded unless asked
  assert.strictEqual(req.sessionId, socket.sessionId)
  assert.throws(() => req.use('cookies'), { name: 'TypeError', message: /unknown request middleware "cookies"/ })

  // the SocketStream sync style: reading req.session before the load finished says so
  const p = req.use('session')
  assert.throws(() => req.session.user, { code: 'ERR_SESSION_NOT_LOADED', message: /await req\.use\('session'\)/ })
  const s = await p
  assert.strictEqual(req.session, s)
  assert.strictEqual(s.user, 'alice')
  assert.strictEqual(s.id, socket.sessionId)
  assert.ok(s instanceof expressSession.Session)
  assert.ok(s.cookie instanceof expressSession.Cookie)
  assert.ok(s.cookie.expires instanceof Date)

  // callback form
  const req2 = socket.request()
  const [err, s2] = await new Promise((resolve) => req2.use('session', (...a) => resolve(a)))
  assert.strictEqual(err, null)
  assert.strictEqual(s2.user, 'alice')
  assert.notStrictEqual(s2, s) // each request has its own session object

  // a change saved by one request is seen by the next, and over HTTP
  s.cart = { items: 3, checkout: false }
  assert.strictEqual(await s.save(), s)
  assert.strictEqual(s.save(() => {}), s) // with a callback: chaining, as express-session
  assert.deepStrictEqual((await socket.request().use('session')).cart, { items: 3, checkout: false })
  assert.deepStrictEqual(s2.cart, undefined)
  await new Promise((resolve, reject) => { s2.myVar = 1234; s2.save((e) => (e ? reject(e) : resolve())) })
  const state = await browser.fetch('GET', '/state')
  assert.deepStrictEqual(state.body.cart, { items: 3, checkout: false }) // saves merge: s2 changed only myVar, s's cart stays (README "Concurrent writes")
  assert.strictEqual((await socket.request().use('session')).myVar, 1234)
})

test('Session reload, touch, destroy, regenerate over a socket', async (t) => {
  const { socket, browser, sessions } = await signedIn(t, { maxAge: 60000 })
  const req = socket.request()
  const s = await req.use('session')
  await browser.fetch('POST', '/increment')

  // reload in place: req.session stays the same object with the stored data
  assert.strictEqual(s.counter, undefined)
  s.scratch = 'gone after reload'
  await s.reload()
  assert.strictEqual(req.session, s)
  assert.strictEqual(s.counter, 1)
  assert.strictEqual(s.scratch, undefined)
  assert.ok(s.cookie.expires instanceof Date)
  await new Promise((resolve, reject) => s.reload((e) => (e ? reject(e) : resolve())))

  // touch pushes the expiry forward in the store too
  const before = (await sessions.load({ headers: { cookie: browser.cookie } })).cookie.expires.getTime()
  await new Promise((resolve) => setTimeout(resolve, 30))
  await s.touch()
  const after = (await sessions.load({ headers: { cookie: browser.cookie } })).cookie.expires.getTime()
  assert.ok(after > before, `${after} > ${before}`)

  await assert.rejects(s.regenerate(), { code: 'ERR_SESSION_REGENERATE' })
  const regenErr = await new Promise((resolve) => s.regenerate(resolve))
  assert.strictEqual(regenErr.code, 'ERR_SESSION_REGENERATE')

  // destroy: gone from req, from the store, and for HTTP
  await new Promise((resolve, reject) => s.destroy((e) => (e ? reject(e) : resolve())))
  assert.strictEqual(req.session, undefined)
  await assert.rejects(s.reload(), { message: 'failed to load session' })
  await assert.rejects(socket.request().use('session'), { code: 'ERR_SESSION_NOT_FOUND' })
  assert.strictEqual(await socket.load(), undefined)
  assert.strictEqual((await browser.fetch('GET', '/state')).body.user, undefined)
})

test('an anonymous socket: no session, a clear error, no unhandled rejection', async (t) => {
  const sessions = createSessions()
  const socket = sessions.socket({ headers: {} })
  assert.strictEqual(socket.sessionId, undefined)
  assert.strictEqual(await socket.load(), undefined)
  assert.strictEqual(await sessions.load({ headers: {} }), undefined)
  const req = socket.request()
  await assert.rejects(req.use('session'), { code: 'ERR_SESSION_ANONYMOUS', message: /no valid signed session cookie/ })
  assert.strictEqual(req.session, undefined)
  // fire-and-forget (SocketStream's sync style) must not crash the process
  const unhandled = []
  const onUnhandled = (e) => unhandled.push(e)
  process.on('unhandledRejection', onUnhandled)
  t.after(() => process.off('unhandledRejection', onUnhandled))
  const req2 = socket.request()
  req2.use('session')
  await new Promise((resolve) => setTimeout(resolve, 50))
  assert.strictEqual(req2.session, undefined)
  assert.deepStrictEqual(unhandled, [])
  const cbErr = await new Promise((resolve) => socket.request().use('session', resolve))
  assert.strictEqual(cbErr.code, 'ERR_SESSION_ANONYMOUS')
  assert.throws(() => sessions.socket(), { name: 'TypeError', message: /upgrade request/ })
  await assert.rejects(sessions.load('nope'), { name: 'TypeError' })
})

test('a failing store is an error for the request, never a crash or a session', async (t) => {
  const store = new expressSession.Store()
  store.get = (sid, cb) => setImmediate(cb, new Error('store down'))
  store.set = (sid, s, cb) => setImmediate(cb, new Error('store down'))
  store.destroy = (sid, cb) => setImmediate(cb)
  const sessions = createSessions({ secret: 's' })
  sessions.store.use(store)
  const cookie = 'connect.sid=' + encodeURIComponent('s:' + require('cookie-signature').sign('abc', 's'))
  const socket = sessions.socket({ headers: { cookie } })
  assert.strictEqual(socket.sessionId, 'abc')
  const req = socket.request()
  await assert.rejects(req.use('session'), { message: 'store down' })
  assert.strictEqual(req.session, undefined)
  await assert.rejects(sessions.load({ headers: { cookie } }), { message: 'store down' })
})
