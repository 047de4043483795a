'use strict'
// One scenario suite over real HTTP, run with the same assertions against express-session
// (the oracle) and against native-session's `session()`, on every store variant (express-
// session's MemoryStore, a synchronous store, our MemoryStore and RedisStore when they are
// there, connect-redis). Each scenario also records a transcript of every response (status,
// body, Set-Cookie headers) and of the store calls; the two implementations' transcripts
// must be identical, Set-Cookie bytes included (same genid, same frozen clock).
const test = require('node:test')
const assert = require('node:assert')
const http = require('node:http')
const crypto = require('node:crypto')
const express = require('express')
const cookieParser = require('cookie-parser')
const expressSession = require('express-session')
const { session } = require('../lib/session')
const { redisOrSkip, REDIS_PORT } = require('./helpers/redis')

const IMPLS = [['express-session', expressSession], ['native-session', session]]

// A frozen clock, identical for both runs of a scenario: cookie expiry is computed from it.
const realNow = Date.now
let clock = null
Date.now = () => clock === null ? realNow() : clock

// ---- stores --------------------------------------------------------------------------

// A store whose callbacks all run synchronously (express-session supports those).
class SyncStore extends expressSession.Store {
  constructor () { super(); this.map = new Map() }
  get (sid, cb) { const s = this.map.get(sid); cb(null, s === undefined ? undefined : JSON.parse(s)) }
  set (sid, sess, cb) { this.map.set(sid, JSON.stringify(sess)); cb && cb(null) }
  destroy (sid, cb) { this.map.delete(sid); cb && cb(null) }
  touch (sid, sess, cb) { cb && cb(null) }
}

function optional (path, name) {
  try { return require(path)[name] } catch { return undefined }
}
const NativeMemoryStore = optional('../lib/memory-store', 'MemoryStore')
const NativeRedisStore = optional('../lib/redis-store', 'RedisStore')

const variants = [
  { name: "express-session's MemoryStore", make: async () => ({ store: new expressSession.MemoryStore() }) },
  { name: 'a synchronous store', make: async () => ({ store: new SyncStore() }) },
  {
    name: 'connect-redis',
    redis: true,
    make: async () => {
      const { RedisStore } = require('connect-redis')
      const { createClient } = require('redis')
      const client = createClient({ url: `redis://127.0.0.1:${REDIS_PORT}` })
      await client.connect()
      const prefix = `test:session:${crypto.randomBytes(6).toString('hex')}:`
      return {
        store: new RedisStore({ client, prefix }),
        close: async () => {
          for await (const keys of client.scanIterator({ MATCH: prefix + '*' })) if (keys.length) await client.del(keys)
          await client.quit()
        }
      }
    }
  }
]
if (typeof NativeMemoryStore === 'function') {
  variants.push({ name: 'native MemoryStore', make: async () => { const store = new NativeMemoryStore(); return { store, close: () => store.close && store.close() } } })
}
if (typeof NativeRedisStore === 'function') {
  variants.push({
    name: 'native RedisStore',
    redis: true,
    make: async () => {
      const prefix = `test:session:${crypto.randomBytes(6).toString('hex')}:`
      const store = new NativeRedisStore({ port: REDIS_PORT, prefix })
      return { store, close: async () => { await store.clear(); await store.close() } }
    }
  })
}

// Counts the store calls by kind (read: get/getJSON, write: set/setJSON, touch, destroy).
function instrument (store, counts) {
  for (const [kind, methods] of [['read', ['get', 'getJSON']], ['write', ['set', 'setJSON', 'casJSON']], ['touch', ['touch']], ['destroy', ['destroy']]]) {
    for (const m of methods) {
      if (typeof store[m] !== 'function') continue
      const orig = store[m]
      store[m] = function (...args) { counts[kind]++; return orig.apply(this, args) }
    }
  }
}

// ---- HTTP ----------------------------------------------------------------------------

function request (port, path, { cookie, headers = {}, method = 'GET' } = {}) {
  return new Promise((resolve, reject) => {
    const h = { ...headers }
    if (cookie) h.cookie = cookie
    const req = http.request({ host: '127.0.0.1', port, path, method, headers: h, agent: false }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (d) => { body += d })
      res.on('end', () => resolve({ status: res.statusCode, message: res.statusMessage, xa: res.headers['x-a'], xb: res.headers['x-b'], body, setCookie: res.headers['set-cookie'] || [] }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.setTimeout(20000, () => req.destroy(new Error(`request ${path} timed out`)))
    req.end()
  })
}

const pair = (setCookie, name = 'connect.sid') => {
  const c = setCookie.find((s) => s.startsWith(name + '='))
  return c ? c.split(';')[0] : undefined
}

// A harness for one implementation: apps on port 0 over the variant's store, a transcript.
function harness (impl, variant, store, counts) {
  const servers = []
  const transcript = []
  const errors = []
  let n = 0
  const h = {
    impl,
    store,
    counts,
    errors,
    transcript,
    genid: () => 'sid-' + (++n),
    // app(options, routes): `routes(app)` adds routes after the session middleware
    async app (options, routes, { before } = {}) {
      const app = express()
      if (before) before(app)
      app.use(impl({ genid: h.genid, store, secret: 'keyboard cat', resave: false, saveUninitialized: false, ...options }))
      routes(app)
      app.use((err, req, res, next) => {
        errors.push(err.message)
        transcript.push({ error: err.message })
        if (res.headersSent) return
        res.status(500).send('error: ' + err.message)
      })
      const server = http.createServer(app)
      await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
      servers.push(server)
      const port = server.address().port
      return {
        async get (path, opts) {
          const r = await request(port, path, opts)
          transcript.push({ path, ...r, counts: { ...counts } })
          return r
        }
      }
    },
    async stored (sid) {
      const s = await new Promise((resolve, reject) => store.get(sid, (err, v) => err ? reject(err) : resolve(v)))
      if (s) delete s.cookie
      return s || undefined
    },
    async close () {
      for (const s of servers) await new Promise((resolve) => s.close(resolve))
    }
  }
  return h
}

// Standard routes.
function counter (app) {
  app.get('/inc', (req, res) => {
    req.session.count = (req.session.count || 0) + 1
    res.send(String(req.session.count))
  })
  app.get('/read', (req, res) => res.send(req.session ? String(req.session.count) : 'no session'))
  app.get('/id', (req, res) => res.send(String(req.sessionID)))
}

const scenarios = []
const scenario = (title, fn) => scenarios.push({ title, fn })

// ---- the scenarios -----------------------------------------------------------------

scenario('a new session gets a cookie only when saveUninitialized or modified', async (h) => {
  const lazy = await h.app({ saveUninitialized: false }, counter)
  let r = await lazy.get('/read')
  assert.deepStrictEqual(r.setCookie, [])
  assert.strictEqual(h.counts.write, 0)
  r = await lazy.get('/inc')
  assert.match(r.setCookie[0], /^connect\.sid=s%3Asid-2\.[A-Za-z0-9%+/]+; Path=\/; HttpOnly$/)
  assert.strictEqual(h.counts.write, 1)
  const eager = await h.app({ saveUninitialized: true, name: 'eager' }, counter)
  r = await eager.get('/read')
  assert.strictEqual(r.setCookie.length, 1)
  assert.ok(r.setCookie[0].startsWith('eager=s%3Asid-3.'))
  assert.strictEqual(h.counts.write, 2)
})

scenario('the session persists through the cookie; unmodified sessions are not re-saved', async (h) => {
  const app = await h.app({}, counter)
  let r = await app.get('/inc')
  const c = pair(r.setCookie)
  for (let i = 2; i <= 4; i++) {
    r = await app.get('/inc', { cookie: c })
    assert.strictEqual(r.body, String(i))
    assert.deepStrictEqual(r.setCookie, []) // no expires, not rolling: no Set-Cookie
  }
  const writes = h.counts.write
  r = await app.get('/read', { cookie: c })
  assert.strictEqual(r.body, '4')
  assert.strictEqual(h.counts.write, writes) // resave: false
  assert.deepStrictEqual(await h.stored('sid-1'), { count: 4 })
  // other cookies around it, and the session cookie in the middle
  r = await app.get('/read', { cookie: `a=1; ${c}; b=2` })
  assert.strictEqual(r.body, '4')
})

scenario('resave: true saves unmodified sessions; touch is used otherwise', async (h) => {
  const app = await h.app({ resave: true }, counter)
  const c = pair((await app.get('/inc')).setCookie)
  const before = { ...h.counts }
  await app.get('/read', { cookie: c })
  assert.strictEqual(h.counts.write, before.write + 1)
  const lazy = await h.app({ resave: false, name: 'lazy' }, counter)
  const c2 = pair((await lazy.get('/inc')).setCookie, 'lazy')
  const mid = { ...h.counts }
  await lazy.get('/read', { cookie: c2 })
  assert.strictEqual(h.counts.write, mid.write)
  assert.strictEqual(h.counts.touch, mid.touch + (typeof h.store.touch === 'function' ? 1 : 0))
})

scenario('rolling sends the cookie on every response', async (h) => {
  const app = await h.app({ rolling: true, cookie: { maxAge: 60000 } }, counter)
  const c = pair((await app.get('/inc')).setCookie)
  clock += 5000
  const r = await app.get('/read', { cookie: c })
  assert.strictEqual(r.setCookie.length, 1)
  assert.ok(r.setCookie[0].includes(new Date(clock + 60000).toUTCString()))
})

scenario('cookie maxAge / expires: Set-Cookie again only when modified', async (h) => {
  const app = await h.app({ cookie: { maxAge: 60000, sameSite: 'strict', domain: 'example.test' } }, counter)
  let r = await app.get('/inc')
  assert.strictEqual(r.setCookie[0].split('; ').slice(1).join('; '),
    `Domain=example.test; Path=/; Expires=${new Date(clock + 60000).toUTCString()}; HttpOnly; SameSite=Strict`)
  const c = pair(r.setCookie)
  clock += 3000
  r = await app.get('/read', { cookie: c })
  assert.deepStrictEqual(r.setCookie, [])
  r = await app.get('/inc', { cookie: c })
  assert.strictEqual(r.setCookie.length, 1)
  const fixed = new Date(Date.UTC(2030, 0, 2, 3, 4, 5))
  const app2 = await h.app({ name: 'fixed', cookie: { expires: fixed, path: '/', httpOnly: false, priority: 'high', partitioned: true, secure: false } }, counter)
  r = await app2.get('/inc')
  assert.strictEqual(r.setCookie[0].split('; ').slice(1).join('; '), 'Path=/; Expires=Wed, 02 Jan 2030 03:04:05 GMT; Partitioned; Priority=High')
})

scenario('secure cookies: withheld over http, sent behind a trusted proxy; secure/sameSite auto', async (h) => {
  const plain = await h.app({ cookie: { secure: true } }, counter)
  let r = await plain.get('/inc')
  assert.deepStrictEqual(r.setCookie, [])
  r = await plain.get('/inc', { headers: { 'x-forwarded-proto': 'https' } }) // not trusted
  assert.deepStrictEqual(r.setCookie, [])
  const proxied = await h.app({ proxy: true, name: 'p', cookie: { secure: true } }, counter)
  r = await proxied.get('/inc', { headers: { 'x-forwarded-proto': 'https, http' } })
  assert.match(r.setCookie[0], /; Secure$/)
  const noproxy = await h.app({ proxy: false, name: 'np', cookie: { secure: true } }, counter,
    { before: (app) => app.set('trust proxy', true) })
  r = await noproxy.get('/inc', { headers: { 'x-forwarded-proto': 'https' } })
  assert.deepStrictEqual(r.setCookie, [])
  const auto = await h.app({ name: 'auto', cookie: { secure: 'auto', sameSite: 'auto' } }, counter,
    { before: (app) => app.set('trust proxy', true) })
  r = await auto.get('/inc', { headers: { 'x-forwarded-proto': 'https' } })
  assert.match(r.setCookie[0], /; HttpOnly; Secure; SameSite=None$/)
  r = await auto.get('/inc')
  assert.match(r.setCookie[0], /; HttpOnly; SameSite=Lax$/)
})

scenario('cookie path mismatch: no session outside the path; cookie as a function', async (h) => {
  const app = await h.app({ cookie: { path: '/admin' } }, (app) => {
    counter(app)
    app.get('/admin/inc', (req, res) => { req.session.count = (req.session.count || 0) + 1; res.send(String(req.session.count)) })
  })
  let r = await app.get('/read')
  assert.strictEqual(r.body, 'no session')
  r = await app.get('/admin/inc?x=1')
  assert.match(r.setCookie[0], /; Path=\/admin; HttpOnly$/)
  let calls = 0
  const fn = await h.app({ name: 'fn', cookie: (req) => { calls++; return { maxAge: req.query.long ? 3600000 : 60000 } } }, counter)
  r = await fn.get('/inc?long=1')
  assert.ok(r.setCookie[0].includes(new Date(clock + 3600000).toUTCString()))
  assert.strictEqual(calls, 2) // once for the path check, once to build the cookie
  // the default path '/': an asterisk-form request target has no session, an absolute one has
  const all = await h.app({ name: 'all', saveUninitialized: true }, (app) => {
    app.use((req, res) => res.send(req.session ? 'session' : 'no session'))
  })
  assert.strictEqual((await all.get('*')).body, 'no session')
  assert.strictEqual((await all.get('http://example.test/x?y=1')).body, 'session')
  assert.strictEqual((await all.get('/x//y')).body, 'session')
})

scenario('secret rotation: old cookies still read, new ones signed with the first secret', async (h) => {
  const old = await h.app({ secret: 'old secret' }, counter)
  const c = pair((await old.get('/inc')).setCookie)
  const rotated = await h.app({ secret: ['new secret', Buffer.from('old secret')], saveUninitialized: true }, counter)
  let r = await rotated.get('/inc', { cookie: c })
  assert.strictEqual(r.body, '2')
  r = await rotated.get('/read')
  assert.strictEqual(r.setCookie.length, 1)
  const other = await h.app({ secret: 'another' }, counter)
  r = await other.get('/read', { cookie: c })
  assert.strictEqual(r.body, 'undefined') // a new, empty session
})

scenario('tampered, unsigned and odd cookies start a new session', async (h) => {
  const app = await h.app({}, counter)
  const c = pair((await app.get('/inc')).setCookie)
  const [name, value] = c.split('=')
  const tampered = [
    `${name}=${value.slice(0, -2)}xx`,
    `${name}=${value.replace('sid-1', 'sid-2')}`,
    `${name}=sid-1`,
    `${name}=${decodeURIComponent(value).slice(2)}`,
    `${name}=`,
    `${name}=%E0%A4%A`,
    `${name}=s%3A`,
    `${name}=s%3A.`
  ]
  for (const t of tampered) {
    const r = await app.get('/read', { cookie: t })
    assert.strictEqual(r.body, 'undefined', t)
  }
  // quoted, unencoded, and a later duplicate of the name
  assert.strictEqual((await app.get('/read', { cookie: `${name}="${value}"` })).body, '1')
  assert.strictEqual((await app.get('/read', { cookie: `${name}=${decodeURIComponent(value)}` })).body, '1')
  assert.strictEqual((await app.get('/read', { cookie: `${c}; ${name}=bogus` })).body, '1')
  assert.strictEqual((await app.get('/read', { cookie: `${name}=bogus; ${c}` })).body, 'undefined')
})

scenario('store errors: ENOENT is not found, other errors go to next(err)', async (h) => {
  const app = await h.app({}, counter)
  const c = pair((await app.get('/inc')).setCookie)
  // the next call of store[method] (or of its JSON twin, whichever comes) fails once
  const fail = (method, code) => {
    const keys = [method, method + 'JSON', method === 'set' ? 'casJSON' : ''].filter((k) => typeof h.store[k] === 'function')
    const origs = keys.map((k) => h.store[k])
    const err = Object.assign(new Error(`${method} failed`), { code })
    for (const k of keys) {
      h.store[k] = function (sid, ...rest) {
        keys.forEach((k, i) => { h.store[k] = origs[i] })
        const cb = rest[rest.length - 1]
        setImmediate(cb, err)
        return Promise.resolve()
      }
    }
  }
  fail('get', 'ENOENT')
  let r = await app.get('/read', { cookie: c })
  assert.strictEqual(r.body, 'undefined')
  fail('get', 'ECONNRESET')
  r = await app.get('/read', { cookie: c })
  assert.strictEqual(r.status, 500)
  assert.strictEqual(r.body, 'error: get failed')
  r = await app.get('/read', { cookie: c })
  assert.strictEqual(r.body, '1')
  fail('set', 'EIO')
  r = await app.get('/inc', { cookie: c })
  assert.strictEqual(r.body, '2') // the response is written; the error goes to next(err)
  for (let i = 0; i < 200 && h.errors.length < 2; i++) await new Promise((resolve) => setTimeout(resolve, 10))
  assert.deepStrictEqual(h.errors, ['get failed', 'set failed'])
})

scenario("store 'disconnect' / 'connect' events turn sessions off and on", async (h) => {
  const app = await h.app({}, counter)
  const c = pair((await app.get('/inc')).setCookie)
  h.store.emit('disconnect')
  let r = await app.get('/read', { cookie: c })
  assert.strictEqual(r.body, 'no session')
  h.store.emit('connect')
  r = await app.get('/read', { cookie: c })
  assert.strictEqual(r.body, '1')
})

scenario('unset: keep leaves the stored session, destroy removes it', async (h) => {
  const clear = (app) => { counter(app); app.get('/clear', (req, res) => { req.session = null; res.send('cleared') }) }
  const keep = await h.app({ unset: 'keep' }, clear)
  const c = pair((await keep.get('/inc')).setCookie)
  await keep.get('/clear', { cookie: c })
  assert.deepStrictEqual(await h.stored('sid-1'), { count: 1 })
  const destroy = await h.app({ unset: 'destroy', name: 'd' }, clear)
  const c2 = pair((await destroy.get('/inc')).setCookie, 'd')
  const before = h.counts.destroy
  const r = await destroy.get('/clear', { cookie: c2 })
  assert.strictEqual(r.body, 'cleared')
  assert.strictEqual(h.counts.destroy, before + 1)
  assert.strictEqual(await h.stored('sid-2'), undefined)
})

scenario('Session methods: save, reload, regenerate, destroy, touch', async (h) => {
  const app = await h.app({ cookie: { maxAge: 60000 } }, (app) => {
    counter(app)
    app.get('/save', (req, res, next) => {
      req.session.count = 10
      req.session.save((err) => { if (err) return next(err); req.session.count = 11; res.send('saved') })
    })
    app.get('/reload', (req, res, next) => {
      req.session.count = 99
      req.session.reload((err) => { if (err) return next(err); res.send(String(req.session.count)) })
    })
    app.get('/regenerate', (req, res, next) => {
      const old = req.sessionID
      req.session.regenerate((err) => {
        if (err) return next(err)
        req.session.fresh = true
        res.send(`${old}->${req.sessionID}:${req.session.count}`)
      })
    })
    app.get('/destroy', (req, res, next) => {
      req.session.destroy((err) => { if (err) return next(err); res.send(String(req.session)) })
    })
    app.get('/touch', (req, res) => { req.session.touch(); res.send('touched') })
  })
  const c = pair((await app.get('/inc')).setCookie)
  let r = await app.get('/save', { cookie: c })
  assert.strictEqual(r.body, 'saved')
  assert.deepStrictEqual(await h.stored('sid-1'), { count: 11 })
  r = await app.get('/reload', { cookie: c })
  assert.strictEqual(r.body, '11')
  assert.deepStrictEqual(await h.stored('sid-1'), { count: 11 })
  clock += 1000
  r = await app.get('/touch', { cookie: c })
  assert.deepStrictEqual(r.setCookie, [])
  r = await app.get('/regenerate', { cookie: c })
  assert.strictEqual(r.body, 'sid-1->sid-2:undefined')
  assert.ok(r.setCookie[0].startsWith('connect.sid=s%3Asid-2.'))
  assert.strictEqual(await h.stored('sid-1'), undefined)
  assert.deepStrictEqual(await h.stored('sid-2'), { fresh: true })
  const c2 = pair(r.setCookie)
  r = await app.get('/destroy', { cookie: c2 })
  assert.strictEqual(r.body, 'undefined')
  assert.deepStrictEqual(r.setCookie, [])
  assert.strictEqual(await h.stored('sid-2'), undefined)
  r = await app.get('/read', { cookie: c2 })
  assert.strictEqual(r.body, 'undefined')
})

scenario('reload of a vanished session fails; saving in the route and after', async (h) => {
  const app = await h.app({}, (app) => {
    counter(app)
    app.get('/reload', (req, res, next) => req.session.reload((err) => res.send(err ? err.message : 'ok')))
    app.get('/save-then-change', (req, res) => {
      req.session.a = 1
      req.session.save(() => { res.send('ok') })
    })
  })
  const c = pair((await app.get('/inc')).setCookie)
  await new Promise((resolve, reject) => h.store.destroy('sid-1', (err) => err ? reject(err) : resolve()))
  let r = await app.get('/reload', { cookie: c })
  assert.strictEqual(r.body, 'failed to load session')
  const writes = h.counts.write
  r = await app.get('/save-then-change')
  assert.strictEqual(h.counts.write, writes + 1) // saved explicitly, not again at the end
  assert.strictEqual(r.setCookie.length, 1)
})

scenario('streamed and sized responses are all delivered around the save', async (h) => {
  const app = await h.app({}, (app) => {
    app.get('/stream', (req, res) => {
      req.session.count = 1
      res.write('hello ')
      res.end('world')
    })
    app.get('/sized', (req, res) => {
      req.session.count = 2
      res.setHeader('Content-Length', '5')
      res.end(Buffer.from('12345'))
    })
    app.get('/head', (req, res) => {
      req.session.count = 3
      res.writeHead(201, { 'x-a': 'b' })
      req.session.late = true
      res.end('late')
    })
  })
  let r = await app.get('/stream')
  assert.strictEqual(r.body, 'hello world')
  r = await app.get('/sized')
  assert.strictEqual(r.body, '12345')
  assert.deepStrictEqual(await h.stored('sid-2'), { count: 2 })
  r = await app.get('/head')
  assert.strictEqual(r.status, 201)
  assert.deepStrictEqual(await h.stored('sid-3'), { count: 3, late: true })
})

scenario('every form of res.writeHead: status, reason and headers kept, Set-Cookie added once', async (h) => {
  const app = await h.app({ saveUninitialized: true }, (app) => {
    const forms = {
      plain: (res) => res.writeHead(200),
      reason: (res) => res.writeHead(202, 'Fine'),
      object: (res) => res.writeHead(201, { 'x-a': 'b' }),
      reasonObject: (res) => res.writeHead(203, 'Quite', { 'x-a': 'c' }),
      array: (res) => res.writeHead(200, ['x-a', 'd', 'x-b', 'e']),
      theirCookie: (res) => res.writeHead(200, { 'Set-Cookie': 'theirs=1' })
    }
    app.get('/:form', (req, res) => {
      req.session.n = 1
      forms[req.params.form](res)
      res.end('ok')
    })
  })
  const want = { plain: [200, 'OK'], reason: [202, 'Fine'], object: [201, 'Created', 'b'], reasonObject: [203, 'Quite', 'c'], array: [200, 'OK', 'd'], theirCookie: [200, 'OK'] }
  for (const [form, [status, message, xa]] of Object.entries(want)) {
    const r = await app.get('/' + form)
    assert.strictEqual(r.status, status, form)
    assert.strictEqual(r.message, message, form)
    assert.strictEqual(r.xa, xa, form)
    assert.strictEqual(r.setCookie.filter((c) => c.startsWith('connect.sid=')).length, 1, form)
    if (form === 'array') assert.strictEqual(r.xb, 'e')
    if (form === 'theirCookie') assert.ok(r.setCookie.includes('theirs=1'), r.setCookie.join(' | '))
  }
})

scenario('req.secret from cookie-parser when there is no secret option; no secret is an error', async (h) => {
  const app = await h.app({ secret: undefined }, counter, { before: (app) => app.use(cookieParser('parser secret')) })
  const c = pair((await app.get('/inc')).setCookie)
  assert.strictEqual((await app.get('/inc', { cookie: c })).body, '2')
  const none = await h.app({ secret: undefined }, counter)
  const r = await none.get('/read')
  assert.strictEqual(r.status, 500)
  assert.strictEqual(r.body, 'error: secret option required for sessions')
})

scenario('two session middlewares: the second one leaves req.session alone', async (h) => {
  const app = await h.app({}, (app) => {
    app.use((req, res, next) => { req.session.first = true; next() })
    app.use(h.impl({ store: new expressSession.MemoryStore(), secret: 'other', resave: true, saveUninitialized: true, genid: () => 'never' }))
    counter(app)
  })
  const r = await app.get('/inc')
  assert.strictEqual(r.body, '1')
  assert.deepStrictEqual(await h.stored('sid-1'), { first: true, count: 1 })
})

scenario('odd session data: unicode, floats, nested objects, keys the Session drops', async (h) => {
  const app = await h.app({ cookie: { maxAge: 60000 } }, (app) => {
    counter(app)
    app.get('/fill', (req, res) => {
      Object.assign(req.session, { '10': 'ten', '2': 'two', text: 'h\u00e9llo \u2603 \ud83d\ude00 "q" \\ \n', f: 0.1 + 0.2, big: 1e21, neg: -0, nested: { a: [1, { b: null }], c: true } })
      res.send('filled')
    })
  })
  const c = pair((await app.get('/fill')).setCookie)
  const writes = h.counts.write
  let r = await app.get('/read', { cookie: c })
  assert.deepStrictEqual(r.setCookie, []) // unchanged: neither saved nor a new cookie
  assert.strictEqual(h.counts.write, writes)
  r = await app.get('/inc', { cookie: c })
  assert.strictEqual(r.setCookie.length, 1)
  assert.strictEqual(h.counts.write, writes + 1)
  const s = await h.stored('sid-1')
  assert.strictEqual(s.text, 'h\u00e9llo \u2603 \ud83d\ude00 "q" \\ \n')
  assert.deepStrictEqual(s.nested, { a: [1, { b: null }], c: true })
})

scenario('a cookie option the serializer refuses goes to next(err)', async (h) => {
  const app = await h.app({ cookie: { domain: 'bad domain;' } }, counter)
  const r = await app.get('/inc')
  assert.deepStrictEqual(r.setCookie, [])
  for (let i = 0; i < 200 && h.errors.length < 1; i++) await new Promise((resolve) => setTimeout(resolve, 10))
  assert.deepStrictEqual(h.errors, ['option domain is invalid'])
})

scenario('a stored session written elsewhere, with keys the Session drops', async (h) => {
  const app = await h.app({}, counter)
  const { sign } = require('cookie-signature')
  const cookie = { originalMaxAge: null, expires: null, httpOnly: true, path: '/' }
  await new Promise((resolve, reject) => h.store.set('foreign', { count: 5, id: 'spoof', save: 1, cookie }, (err) => err ? reject(err) : resolve()))
  const c = 'connect.sid=' + encodeURIComponent('s:' + sign('foreign', 'keyboard cat'))
  const writes = h.counts.write
  const r = await app.get('/read', { cookie: c })
  assert.strictEqual(r.body, '5')
  assert.strictEqual(h.counts.write, writes + 1) // express-session sees it as modified
  assert.deepStrictEqual(await h.stored('foreign'), { count: 5 })
})

// ---- the runner ----------------------------------------------------------------------

const T0 = Math.floor(realNow() / 1000) * 1000 - 500

for (const variant of variants) {
  test(`session scenarios with ${variant.name}`, { timeout: 120000 }, async (t) => {
    if (variant.redis && !(await redisOrSkip(t))) return
    for (const sc of scenarios) {
      await t.test(sc.title, async () => {
        const transcripts = {}
        for (const [implName, impl] of IMPLS) {
          const { store, close } = await variant.make()
          const counts = { read: 0, write: 0, touch: 0, destroy: 0 }
          instrument(store, counts)
          const h = harness(impl, variant, store, counts)
          clock = T0
          try {
            await sc.fn(h)
          } catch (err) {
            err.message = `[${implName}] ${err.message}`
            throw err
          } finally {
            clock = null
            await h.close()
            if (close) await close()
          }
          transcripts[implName] = h.transcript
        }
        assert.deepStrictEqual(transcripts['native-session'], transcripts['express-session'])
      })
    }
  })
}
