'use strict'
// Concurrent writes to one session (README "Concurrent writes"): merge of changed keys,
// destroy wins (tombstones), locks with lease and fencing, on both stores.
const test = require('node:test')
const assert = require('node:assert')
const http = require('node:http')
const { once } = require('node:events')
const { MemoryStore, RedisStore, createSessions } = require('..')
const { changedKeys, applyKeys, mergeSave } = require('../lib/merge')
const { redisOrSkip, REDIS_PORT } = require('./helpers/redis')

const DAY = 24 * 3600 * 1000
const cookie = () => ({ originalMaxAge: DAY, expires: new Date(Date.now() + DAY).toISOString(), httpOnly: true, path: '/' })

test('changedKeys and applyKeys: added, changed, deleted; Dates and nested objects byte-exact', () => {
  const base = { cookie: cookie(), a: 1, b: { x: [1, 2] }, c: 'keep', d: '2020-01-01T00:00:00.000Z', gone: true }
  const sess = JSON.parse(JSON.stringify(base))
  sess.a = 2 // changed
  sess.b = { x: [1, 2] } // same JSON: unchanged
  sess.d = new Date('2020-01-01T00:00:00.000Z') // a Date with the same JSON: unchanged
  sess.e = { nested: { when: new Date(0), list: [] } } // added
  delete sess.gone // deleted
  sess.u = undefined // not in JSON: not added
  const keys = changedKeys(base, sess).sort()
  assert.deepStrictEqual(keys, ['a', 'cookie', 'e', 'gone'])
  // another writer changed c and added z meanwhile
  const current = { ...base, c: 'theirs', z: [1, { y: null }], cookie: { ...base.cookie, path: '/x' } }
  const merged = applyKeys(JSON.stringify(current), sess, keys)
  const want = { ...current, a: 2, e: sess.e, cookie: sess.cookie }
  delete want.gone
  assert.strictEqual(merged, JSON.stringify(want))
  assert.deepStrictEqual(JSON.parse(merged).e, { nested: { when: '1970-01-01T00:00:00.000Z', list: [] } })
  // __proto__ as a session key stays data
  const p = JSON.parse('{"__proto__":{"x":1}}')
  const out = applyKeys('{"a":1}', p, ['__proto__'])
  assert.strictEqual(out, '{"a":1,"__proto__":{"x":1}}')
  assert.throws(() => applyKeys('[1]', sess, ['a']), { code: 'ERR_SESSION_BAD_DATA' })
})

test('merging saves of one session stay in order, and none is stranded, across thousands of saves while others are in flight', async () => {
  // a store whose compare-and-set always succeeds on a later turn, except the first one of
  // each 'held…' session, answered only when the test releases it: the per-store queue table
  // never empties meanwhile, and is replaced while they wait
  const writes = []
  const held = new Map()
  const store = {
    casJSON (sid, expected, json, sess, token, cb) {
      const done = () => { writes.push([sid, json]); cb(null, 'ok') }
      if (sid.startsWith('held') && !held.has(sid)) held.set(sid, done)
      else setImmediate(done)
    }
  }
  const save = (sid, n) => new Promise((resolve, reject) => mergeSave(store, { id: sid, n }, `{"n":${n}}`, (err) => err ? reject(err) : resolve()))
  const timeout = (p) => Promise.race([p, new Promise((resolve, reject) => setTimeout(reject, 2000, new Error('a save was stranded')))])
  const first = save('held1', 0)
  for (let i = 0; i < 5000; i += 2) await Promise.all([save('a', i), save('a', i + 1), save('b', i)])
  const second = save('held2', 0)
  held.get('held1')()
  await first
  // each held session's next saves wait for its first and then run
  const more = [save('held2', 1), save('held1', 1), save('held1', 2)]
  await new Promise((resolve) => setTimeout(resolve, 10))
  held.get('held2')()
  await timeout(Promise.all([second, ...more]))
  const of = (sid) => writes.filter((w) => w[0] === sid).map((w) => JSON.parse(w[1]).n)
  assert.deepStrictEqual(of('a'), Array.from({ length: 5000 }, (_, i) => i))
  assert.deepStrictEqual(of('held1'), [0, 1, 2])
  assert.deepStrictEqual(of('held2'), [0, 1])
  assert.strictEqual(of('b').length, 2500)
})

// the store primitives, on both stores
async function primitives (store, sid) {
  const s1 = { cookie: cookie(), n: 1 }
  const j1 = JSON.stringify(s1)
  assert.strictEqual(await store.casJSON(sid, null, j1, s1), 'ok')
  assert.strictEqual(await store.getJSON(sid), j1)
  // expected none, but there is one: the current JSON comes back
  assert.strictEqual(await store.casJSON(sid, null, '{}', s1), j1)
  // an expectation that is not JSON text: a TypeError, nothing written
  await assert.rejects(store.casJSON(sid, 5, '{}', s1), TypeError)
  assert.strictEqual(await store.getJSON(sid), j1)
  // wrong expectation: conflict, nothing written
  const s2 = { cookie: cookie(), n: 2 }
  assert.strictEqual(await store.casJSON(sid, '{"cookie":{}}', JSON.stringify(s2), s2), j1)
  assert.strictEqual(await store.getJSON(sid), j1)
  assert.strictEqual(await store.casJSON(sid, j1, JSON.stringify(s2), s2), 'ok')
  assert.strictEqual(await store.getJSON(sid), JSON.stringify(s2))
  // destroyed: gone for a loaded session, and (tombstone) for a new one too
  await store.destroy(sid)
  assert.strictEqual(await store.casJSON(sid, JSON.stringify(s2), j1, s1), 'gone')
  assert.strictEqual(await store.casJSON(sid, null, j1, s1), 'gone')
  assert.strictEqual(await store.getJSON(sid) ?? null, null)
  // the plain store contract is unchanged: set after destroy stores (express-session's stores do)
  await store.set(sid, s1)
  assert.deepStrictEqual((await store.get(sid)).n, 1)
  await store.destroy(sid)
}

async function locks (store, sid) {
  const lock = (lease, wait) => new Promise((resolve, reject) => store.lockSession(sid, lease, wait, (e, t) => e ? reject(e) : resolve(t)))
  const t1 = await lock(150, 1000)
  // held: a short wait times out with a stable code
  await assert.rejects(lock(1000, 30), { code: 'ERR_SESSION_LOCK_TIMEOUT' })
  // the lease runs out: a waiter gets it, and the first holder is fenced off
  const t2 = await lock(5000, 5000)
  assert.notStrictEqual(t1, t2)
  const s = { cookie: cookie(), n: 1 }
  assert.strictEqual(await store.casJSON(sid, null, JSON.stringify(s), s, t1), 'fenced')
  assert.strictEqual(await store.getJSON(sid) ?? null, null)
  assert.strictEqual(await store.casJSON(sid, null, JSON.stringify(s), s, t2), 'ok')
  // unlock by a stale token does nothing; by the holder frees it
  await new Promise((resolve) => store.unlockSession(sid, t1, resolve))
  await assert.rejects(lock(1000, 30), { code: 'ERR_SESSION_LOCK_TIMEOUT' })
  await new Promise((resolve) => store.unlockSession(sid, t2, resolve))
  const t3 = await lock(1000, 100)
  await new Promise((resolve) => store.unlockSession(sid, t3, resolve))
  await store.destroy(sid)
}

test('MemoryStore: compare-and-set, tombstones, locks', async () => {
  const store = new MemoryStore()
  await primitives(store, 'm1')
  await locks(store, 'm2')
  await store.close()
})

test('RedisStore: compare-and-set, tombstones, locks; connect-redis reads merged sessions and sees no tombstones', async (t) => {
  if (!await redisOrSkip(t)) return
  const prefix = `test:updates:${Math.random().toString(36).slice(2)}:`
  const store = new RedisStore({ port: REDIS_PORT, prefix, tombstoneTtl: 5000 })
  const client = require('redis').createClient({ url: `redis://127.0.0.1:${REDIS_PORT}` })
  await client.connect()
  try {
    await primitives(store, 'r1')
    await locks(store, 'r2')
    // a merged session, read by connect-redis
    const theirs = new (require('connect-redis').RedisStore)({ client, prefix })
    const sess = { cookie: cookie(), when: new Date(0), list: [], nested: { a: [1, { b: 2 }] }, big: 1e21, neg: -0.5 }
    assert.strictEqual(await store.casJSON('r3', null, JSON.stringify(sess), sess), 'ok')
    const loaded = await store.getJSON('r3')
    sess.more = 'x'
    const current = JSON.parse(loaded)
    current.other = 'them'
    await store.setJSON('r3', JSON.stringify(current), current)
    // expecting what we loaded: a conflict, which hands back the current JSON
    assert.strictEqual(await store.casJSON('r3', loaded, '{}', sess), JSON.stringify(current))
    const merged = await store.casJSON('r3', JSON.stringify(current), applyKeys(JSON.stringify(current), sess, changedKeys(JSON.parse(loaded), sess)), sess)
    assert.strictEqual(merged, 'ok')
    const got = await new Promise((resolve, reject) => theirs.get('r3', (e, s) => e ? reject(e) : resolve(s)))
    assert.deepStrictEqual(got, JSON.parse(JSON.stringify({ ...current, ...sess })))
    assert.strictEqual(await client.get(prefix + 'r3'), JSON.stringify({ ...current, more: 'x' }))
    // tombstones (of r1, r2) never look like sessions
    await store.destroy('r3')
    assert.strictEqual(await client.exists(`{${prefix}r3}:tomb`), 1)
    assert.deepStrictEqual(await new Promise((resolve, reject) => theirs.ids((e, v) => e ? reject(e) : resolve(v))), [])
    assert.deepStrictEqual(await store.ids(), [])
    assert.strictEqual(await store.length(), 0)
  } finally {
    const keys = await client.keys(`{${prefix}*`)
    if (keys.length) await client.del(keys)
    await store.clear()
    await store.close()
    await client.quit()
  }
})

// createSessions() end to end: a session signed in over HTTP, then written by HTTP routes
// and by sessions.load() (the websocket side's Session) concurrently.
async function endToEnd (t, storeKind) {
  const prefix = `test:updates:${Math.random().toString(36).slice(2)}:`
  const sessions = createSessions({ secret: 'updates test' })
  const store = storeKind === 'redis' ? sessions.store.use('redis', { port: REDIS_PORT, prefix }) : sessions.store.use('memory')
  let gate
  const app = require('express')()
  app.use(sessions.http())
  app.get('/login', (req, res) => { req.session.user = 'ada'; res.end(req.sessionID) })
  app.get('/slow', async (req, res) => {
    req.session.http = 'h'
    await new Promise((resolve) => { gate = resolve })
    res.end('ok')
  })
  app.use((err, req, res, next) => { res.statusCode = 500; res.end(err.code || err.message) })
  const server = http.createServer(app).listen(0, '127.0.0.1')
  await once(server, 'listening')
  const port = server.address().port
  const get = (path, headers) => new Promise((resolve, reject) => http.get({ port, path, headers }, (res) => {
    let body = ''
    res.on('data', (d) => { body += d })
    res.on('end', () => resolve({ res, body }))
  }).on('error', reject))
  try {
    const login = await get('/login')
    const cookieHeader = login.res.headers['set-cookie'][0].split(';')[0]
    const sid = login.body
    const upgrade = { headers: { cookie: cookieHeader } }

    // two RPCs and one HTTP request load the session, each changes its own key
    const a = await sessions.load(upgrade)
    const b = await sessions.load(upgrade)
    const slow = get('/slow', { cookie: cookieHeader })
    await waitFor(() => gate)
    a.a = 1
    b.b = { when: new Date(0) }
    delete b.user
    await a.save()
    await b.save()
    gate()
    assert.strictEqual((await slow).body, 'ok')
    const s = await store.get(sid)
    assert.strictEqual(s.a, 1)
    assert.strictEqual(s.b.when, '1970-01-01T00:00:00.000Z')
    assert.strictEqual(s.http, 'h')
    assert.strictEqual(s.user, undefined, 'a deletion is a change too')
    assert.strictEqual(s.cookie.httpOnly, true)

    // destroy wins: over a websocket-side save (an error), and over the end of an HTTP response (skipped)
    const c = await sessions.load(upgrade)
    gate = undefined
    const slow2 = get('/slow', { cookie: cookieHeader })
    await waitFor(() => gate)
    const d = await sessions.load(upgrade)
    await d.destroy()
    c.late = true
    await assert.rejects(c.save(), { code: 'ERR_SESSION_GONE' })
    gate()
    const r = await slow2
    assert.strictEqual(r.res.statusCode, 200)
    assert.strictEqual(await store.get(sid) ?? null, null, 'not resurrected')
  } finally {
    server.closeAllConnections()
    server.close()
    await store.clear()
    await store.close()
  }
}

async function waitFor (f) {
  for (let i = 0; i < 1000 && !f(); i++) await new Promise((resolve) => setTimeout(resolve, 5))
  assert.ok(f(), 'timed out waiting')
}

test('createSessions() on memory: concurrent HTTP and websocket-side saves merge; destroy wins', (t) => endToEnd(t, 'memory'))
test('createSessions() on Redis: concurrent HTTP and websocket-side saves merge; destroy wins', async (t) => {
  if (!await redisOrSkip(t)) return
  await endToEnd(t, 'redis')
})

// lock: true serializes read-modify-write across HTTP and the websocket side
async function lockedCounters (t, storeKind) {
  const prefix = `test:updates:${Math.random().toString(36).slice(2)}:`
  const sessions = createSessions({ secret: 'updates test', lock: true, lockWait: 20000 })
  const store = storeKind === 'redis' ? sessions.store.use('redis', { port: REDIS_PORT, prefix }) : sessions.store.use('memory')
  const app = require('express')()
  app.use(sessions.http())
  app.get('/login', (req, res) => { req.session.n = 0; res.end(req.sessionID) })
  app.get('/inc', async (req, res) => {
    const n = req.session.n
    await new Promise((resolve) => setTimeout(resolve, 1))
    req.session.n = n + 1
    res.end('ok')
  })
  app.get('/read', (req, res) => res.end(String(req.session.n)))
  const server = http.createServer(app).listen(0, '127.0.0.1')
  await once(server, 'listening')
  const port = server.address().port
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 })
  const get = (path, headers) => new Promise((resolve, reject) => http.get({ port, path, headers, agent }, (res) => {
    let body = ''
    res.on('data', (d) => { body += d })
    res.on('end', () => resolve({ res, body }))
  }).on('error', reject))
  try {
    const login = await get('/login')
    const cookieHeader = login.res.headers['set-cookie'][0].split(';')[0]
    const socket = sessions.socket({ headers: { cookie: cookieHeader } })
    const N = 40
    const rpc = async () => {
      const req = socket.request()
      const s = await req.use('session')
      const n = s.n
      await new Promise((resolve) => setTimeout(resolve, 1))
      s.n = n + 1
      await s.save()
    }
    const reads = async () => {
      const req = socket.request()
      const s = await req.use('session')
      await s.release()
    }
    await Promise.all([
      ...Array.from({ length: N }, () => get('/inc', { cookie: cookieHeader })),
      ...Array.from({ length: N }, rpc),
      ...Array.from({ length: 5 }, reads),
      ...Array.from({ length: 5 }, () => get('/read', { cookie: cookieHeader }))
    ])
    assert.strictEqual((await store.get(login.body)).n, 2 * N)
  } finally {
    agent.destroy()
    server.closeAllConnections()
    server.close()
    await store.clear()
    await store.close()
  }
}

test('lock: true on memory: no lost increments across HTTP and the websocket side', (t) => lockedCounters(t, 'memory'))
test('lock: true on Redis: no lost increments across HTTP and the websocket side', async (t) => {
  if (!await redisOrSkip(t)) return
  await lockedCounters(t, 'redis')
})

test('options: lock needs a store that locks; merge: false writes blindly', async () => {
  const { session } = require('..')
  assert.throws(() => session({ secret: 's', resave: false, saveUninitialized: false, lock: true, store: new (require('express-session').MemoryStore)() }), TypeError)
  assert.throws(() => session({ secret: 's', resave: false, saveUninitialized: false, lock: 'yes' }), TypeError)
  assert.throws(() => session({ secret: 's', resave: false, saveUninitialized: false, lock: true, lockWait: -1 }), TypeError)
  const sessions = createSessions({ secret: 's', merge: false })
  const store = sessions.store.use('memory')
  const s = { cookie: cookie(), user: 'ada' }
  await store.set('x', s)
  sessions.http() // fixes the options
  const upgrade = { headers: { cookie: 'connect.sid=' + encodeURIComponent('s:' + require('cookie-signature').sign('x', 's')) } }
  const a = await sessions.load(upgrade)
  const b = await sessions.load(upgrade)
  sessions.socket(upgrade) // same options
  a.a = 1
  b.b = 2
  await a.save()
  await b.save()
  const got = await store.get('x')
  assert.strictEqual(got.a, undefined, 'merge: false: the last save overwrites')
  assert.strictEqual(got.b, 2)
  await store.close()
})

// Two RedisStore instances stand for two processes (each has its own connection and its own
// per-process save queue): merged saves from both keep every key; locked increments from
// both lose none.
test('RedisStore: merged saves and locked increments from two store instances (two processes)', async (t) => {
  if (!await redisOrSkip(t)) return
  const { mergeSave, kLoaded, kLock } = require('../lib/merge')
  const prefix = `test:updates:${Math.random().toString(36).slice(2)}:`
  const stores = [new RedisStore({ port: REDIS_PORT, prefix, tombstoneTtl: 1000 }), new RedisStore({ port: REDIS_PORT, prefix, tombstoneTtl: 1000 })]
  const load = async (store) => {
    const json = await store.getJSON('p')
    const s = JSON.parse(json)
    Object.defineProperty(s, 'id', { value: 'p' })
    s[kLoaded] = json
    return s
  }
  const save = (store, s) => new Promise((resolve, reject) => mergeSave(store, s, JSON.stringify(s), (e) => e ? reject(e) : resolve()))
  try {
    const first = { cookie: cookie(), n: 0 }
    assert.strictEqual(await stores[0].casJSON('p', null, JSON.stringify(first), first), 'ok')
    const N = 30
    await Promise.all(stores.flatMap((store, k) => Array.from({ length: N }, async (_, i) => {
      const s = await load(store)
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 3))
      s[`k${k}_${i}`] = i
      await save(store, s)
    })))
    const all = JSON.parse(await stores[1].getJSON('p'))
    for (let k = 0; k < 2; k++) for (let i = 0; i < N; i++) assert.strictEqual(all[`k${k}_${i}`], i, `k${k}_${i}`)
    // locked read-modify-write of one key
    const lock = (store) => new Promise((resolve, reject) => store.lockSession('p', 5000, 20000, (e, tk) => e ? reject(e) : resolve(tk)))
    await Promise.all(stores.flatMap((store) => Array.from({ length: 15 }, async () => {
      const token = await lock(store)
      const s = await load(store)
      s[kLock] = token
      await new Promise((resolve) => setTimeout(resolve, 1))
      s.n = s.n + 1
      await save(store, s)
      await store.unlockSession('p', token)
    })))
    assert.strictEqual(JSON.parse(await stores[0].getJSON('p')).n, 30)
  } finally {
    await stores[0].destroy('p')
    for (const s of stores) { await s.clear(); await s.close() }
  }
})

test('regenerate retires the old id; a lock wait that runs out is ERR_SESSION_LOCK_TIMEOUT over HTTP', async () => {
  const sessions = createSessions({ secret: 'updates test', lock: true, lockWait: 100, lockLease: 5000 })
  const store = sessions.store.use('memory')
  let gate
  const app = require('express')()
  app.use(sessions.http())
  app.get('/login', (req, res) => { req.session.user = 'ada'; res.end(req.sessionID) })
  app.get('/regen', (req, res, next) => req.session.regenerate((err) => err ? next(err) : res.end(req.sessionID)))
  app.get('/hold', async (req, res) => { await new Promise((resolve) => { gate = resolve }); res.end('held') })
  app.use((err, req, res, next) => { res.statusCode = 500; res.end(String(err.code)) })
  const server = http.createServer(app).listen(0, '127.0.0.1')
  await once(server, 'listening')
  const port = server.address().port
  const get = (path, headers) => new Promise((resolve, reject) => http.get({ port, path, headers }, (res) => {
    let body = ''
    res.on('data', (d) => { body += d })
    res.on('end', () => resolve({ res, body }))
  }).on('error', reject))
  try {
    const login = await get('/login')
    const c = login.res.headers['set-cookie'][0].split(';')[0]
    const old = await sessions.load({ headers: { cookie: c } }) // an RPC's session, loaded before
    const regen = await get('/regen', { cookie: c })
    assert.notStrictEqual(regen.body, login.body)
    old.late = 1
    await assert.rejects(old.save(), { code: 'ERR_SESSION_GONE' })
    assert.strictEqual(await store.get(login.body), undefined, 'the old id stays gone')
    assert.ok(await store.get(regen.body), 'the new session is stored')
    // a request holds the lock; another one waits 100 ms and fails with a stable code
    const c2 = regen.res.headers['set-cookie'][0].split(';')[0]
    const held = get('/hold', { cookie: c2 })
    await waitFor(() => gate)
    const blocked = await get('/login', { cookie: c2 })
    assert.strictEqual(blocked.res.statusCode, 500)
    assert.strictEqual(blocked.body, 'ERR_SESSION_LOCK_TIMEOUT')
    gate()
    assert.strictEqual((await held).body, 'held')
    assert.strictEqual((await get('/login', { cookie: c2 })).res.statusCode, 200, 'released at the end of the response')
  } finally {
    server.closeAllConnections()
    server.close()
    await store.close()
  }
})
