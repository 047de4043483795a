'use strict'
// createSessions() end to end: a real HTTP server and real `ws` clients carrying the
// browser's Cookie header, on the memory store and on Redis.
const test = require('node:test')
const assert = require('node:assert')
const crypto = require('node:crypto')
const signature = require('cookie-signature')
const { createSessions } = require('..')
const { createApp, Browser, until } = require('./helpers/sessions-app')
const { redisOrSkip, REDIS_PORT } = require('./helpers/redis')

// Each backend: `setup(t, sessions)` picks the store, returns a cleanup (or false to skip).
const backends = {
  memory: async (t, sessions) => {
    sessions.store.use('memory')
    return () => {}
  },
  redis: async (t, sessions) => {
    if (!(await redisOrSkip(t))) return false
    const prefix = `test:sessions:${crypto.randomBytes(6).toString('hex')}:`
    const store = sessions.store.use('redis', { port: REDIS_PORT, prefix })
    return async () => { await store.clear(); await store.close() }
  }
}

async function setup (t, backend, opts, kind) {
  const sessions = createSessions(opts)
  const cleanup = await backends[backend](t, sessions)
  if (cleanup === false) return undefined
  const app = await createApp(sessions, kind)
  t.after(async () => { await app.close(); await cleanup() })
  return { sessions, app }
}

for (const backend of Object.keys(backends)) {
  test(`${backend}: one session shared both ways between HTTP and websocket RPC`, async (t) => {
    const ctx = await setup(t, backend)
    if (!ctx) return
    const alice = new Browser(ctx.app.url)
    const signedIn = await alice.fetch('POST', '/login?user=alice')
    assert.strictEqual(signedIn.body.user, 'alice')
    assert.match(signedIn.setCookie[0], /^connect\.sid=s%3A/)

    const ws = await alice.connect()
    t.after(() => ws.close())
    const who = await ws.call('whoami')
    assert.strictEqual(who.user, 'alice')
    assert.strictEqual(who.sessionId, ws.sessionId)
    assert.ok(ws.sessionId)

    // websocket → HTTP
    await ws.call('increment')
    await ws.call('increment')
    await ws.call('addToCart', 'tea')
    assert.deepStrictEqual((await alice.fetch('GET', '/state')).body,
      { user: 'alice', counter: 2, cart: { items: ['tea'], checkout: false } })

    // HTTP → websocket (the same open socket, next RPC)
    await alice.fetch('POST', '/increment')
    assert.deepStrictEqual(await ws.call('state'),
      { user: 'alice', counter: 3, cart: { items: ['tea'], checkout: false } })

    // another browser has its own session
    const bob = new Browser(ctx.app.url)
    await bob.fetch('POST', '/login?user=bob')
    const bws = await bob.connect()
    t.after(() => bws.close())
    assert.deepStrictEqual(await bws.call('state'), { user: 'bob', counter: 0, cart: { items: [], checkout: false } })
    assert.notStrictEqual(bws.sessionId, ws.sessionId)

    // sessions.load() reads the same session from any request's cookie
    const loaded = await ctx.sessions.load({ headers: { cookie: alice.cookie } })
    assert.strictEqual(loaded.user, 'alice')
    assert.strictEqual(loaded.counter, 3)
    assert.strictEqual(loaded.id, ws.sessionId)
    loaded.counter = 10
    await loaded.save()
    assert.strictEqual((await alice.fetch('GET', '/state')).body.counter, 10)
  })

  test(`${backend}: missing, unsigned and forged cookies give an anonymous socket, never someone's session`, async (t) => {
    const ctx = await setup(t, backend)
    if (!ctx) return
    const alice = new Browser(ctx.app.url)
    await alice.fetch('POST', '/login?user=alice')
    const sid = decodeURIComponent(alice.jar.get('connect.sid')).slice(2).split('.')[0]
    assert.strictEqual((await ctx.sessions.load({ headers: { cookie: alice.cookie } })).id, sid)

    const forged = [
      undefined, // no cookie at all
      sid, // the bare id
      `s:${sid}`, // no signature
      `s:${sid}.${'A'.repeat(43)}`, // wrong signature
      signature.sign(sid, 'another secret').replace(/^/, 's:'), // signed with another secret
      `s:${signature.sign(sid, 'SocketStream')}x`, // tampered signature
      encodeURIComponent(`s:${signature.sign(sid + 'x', 'nope')}`)
    ]
    for (const value of forged) {
      const mallory = new Browser(ctx.app.url)
      if (value !== undefined) mallory.setCookie('connect.sid', value)
      const ws = await mallory.connect()
      t.after(() => ws.close())
      assert.strictEqual(ws.sessionId, null, String(value))
      await assert.rejects(ws.call('state'), { code: 'ERR_SESSION_ANONYMOUS' }, String(value))
      assert.strictEqual(await ctx.sessions.load({ headers: { cookie: mallory.cookie } }), undefined)
      // over HTTP, such a browser gets a new session of its own, not alice's
      assert.strictEqual((await mallory.fetch('GET', '/state')).body.user, undefined)
    }
    // the genuine cookie still works, also URL-decoded and among other cookies
    const ok = new Browser(ctx.app.url)
    ok.setCookie('other', 'x')
    ok.setCookie('connect.sid', alice.jar.get('connect.sid'))
    const ws = await ok.connect()
    t.after(() => ws.close())
    assert.strictEqual((await ws.call('whoami')).user, 'alice')
  })

  test(`${backend}: rotated secrets: old cookies verify while the old secret is listed, not after`, async (t) => {
    const old = await setup(t, backend, { secret: 'old secret' })
    if (!old) return
    const alice = new Browser(old.app.url)
    await alice.fetch('POST', '/login?user=alice')

    const rotated = createSessions({ secret: ['new secret', 'old secret'] })
    rotated.store.use(old.sessions.store.get())
    const app2 = await createApp(rotated)
    t.after(() => app2.close())
    alice.url = app2.url
    const ws = await alice.connect()
    t.after(() => ws.close())
    assert.strictEqual((await ws.call('increment')).user, 'alice')
    assert.strictEqual((await alice.fetch('GET', '/state')).body.counter, 1)

    const dropped = createSessions({ secret: 'new secret' })
    dropped.store.use(old.sessions.store.get())
    const app3 = await createApp(dropped)
    t.after(() => app3.close())
    const eve = new Browser(app3.url)
    eve.setCookie('connect.sid', alice.jar.get('connect.sid'))
    const ws3 = await eve.connect()
    t.after(() => ws3.close())
    assert.strictEqual(ws3.sessionId, null)
    await assert.rejects(ws3.call('state'), { code: 'ERR_SESSION_ANONYMOUS' })
    assert.strictEqual((await eve.fetch('GET', '/state')).body.user, undefined)
  })

  test(`${backend}: an expired session is gone for the socket and for HTTP`, async (t) => {
    const ctx = await setup(t, backend, { maxAge: 1500 })
    if (!ctx) return
    const alice = new Browser(ctx.app.url)
    await alice.fetch('POST', '/login?user=alice')
    const ws = await alice.connect()
    t.after(() => ws.close())
    assert.strictEqual((await ws.call('increment')).counter, 1)
    await until(async () => {
      try { await ws.call('state'); return false } catch (err) { return err.code === 'ERR_SESSION_NOT_FOUND' }
    })
    assert.strictEqual(await ctx.sessions.load({ headers: { cookie: alice.cookie } }), undefined)
    assert.strictEqual((await alice.fetch('GET', '/state')).body.user, undefined)
  })

  test(`${backend}: a session destroyed over HTTP is gone for the websocket's next use('session')`, async (t) => {
    const ctx = await setup(t, backend)
    if (!ctx) return
    const alice = new Browser(ctx.app.url)
    await alice.fetch('POST', '/login?user=alice')
    const ws = await alice.connect()
    t.after(() => ws.close())
    assert.strictEqual((await ws.call('increment')).counter, 1)
    await alice.fetch('POST', '/logout')
    await assert.rejects(ws.call('state'), { code: 'ERR_SESSION_NOT_FOUND' })
    // and the socket cannot bring it back by saving
    await assert.rejects(ws.call('increment'), { code: 'ERR_SESSION_NOT_FOUND' })
    assert.strictEqual(await ctx.sessions.load({ headers: { cookie: alice.cookie } }), undefined)
  })

  test(`${backend}: concurrent RPCs on many sockets each get their own session`, async (t) => {
    const ctx = await setup(t, backend)
    if (!ctx) return
    const users = ['ann', 'ben', 'cat', 'dan']
    const clients = await Promise.all(users.map(async (u) => {
      const b = new Browser(ctx.app.url)
      await b.fetch('POST', `/login?user=${u}`)
      const ws = await b.connect()
      t.after(() => ws.close())
      return { u, b, ws }
    }))
    const results = await Promise.all(clients.flatMap(({ u, ws }) =>
      Array.from({ length: 25 }, (_, i) => ws.call(i % 2 ? 'whoami' : 'set', { key: 'last', value: `${u}${i}` })
        .then((r) => ({ u, r, sid: ws.sessionId })))))
    for (const { u, r, sid } of results) {
      assert.strictEqual(r.user, u)
      if (r.sessionId) assert.strictEqual(r.sessionId, sid)
    }
    for (const { u, b } of clients) {
      const s = await ctx.sessions.load({ headers: { cookie: b.cookie } })
      assert.strictEqual(s.user, u)
      assert.match(s.last, new RegExp(`^${u}\\d+$`))
    }
  })
}

for (const [kind, backend] of [['express5', 'memory'], ['connect', 'memory'], ['express5', 'redis'], ['connect', 'redis']]) {
  test(`${kind}, ${backend}: the same session over HTTP and websocket`, async (t) => {
    const ctx = await setup(t, backend, undefined, kind)
    if (!ctx) return
    const alice = new Browser(ctx.app.url)
    await alice.fetch('POST', '/login?user=alice')
    const ws = await alice.connect()
    t.after(() => ws.close())
    assert.strictEqual((await ws.call('increment')).user, 'alice')
    assert.strictEqual((await alice.fetch('POST', '/increment')).body.counter, 2)
    assert.strictEqual((await ws.call('state')).counter, 2)
  })
}
