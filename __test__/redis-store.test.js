'use strict'
// RedisStore on the shared Redis (127.0.0.1:6379): the store API, connect-redis 9 interop in
// both directions (oracle: the real connect-redis on node-redis 5), expiry on read, bad input.
const test = require('node:test')
const assert = require('node:assert')
const { createClient } = require('redis')
const { RedisStore: ConnectRedis } = require('connect-redis')
const { RedisStore } = require('..')
// the connection these tests use: the default, or 'tokio' (redis-*.tokio.test.js)
const TRANSPORT = process.env.TEST_REDIS_TRANSPORT || undefined
const { redisOrSkip, REDIS_PORT } = require('./helpers/redis')

const rand = () => Math.random().toString(36).slice(2, 10)

// mulberry32: seeded, so a failure names the inputs that made it
function rng (seed) {
  return () => {
    seed |= 0; seed = seed + 0x6D2B79F5 | 0
    let t = Math.imul(seed ^ seed >>> 15, 1 | seed)
    t = t + Math.imul(t ^ t >>> 7, 61 | t) ^ t
    return ((t ^ t >>> 14) >>> 0) / 4294967296
  }
}
const ALPHABET = ['a', 'Z', '0', ' ', '"', '\\', '\n', 'é', '€', '😀', '<', '\u2028', '\u0000']
function genValue (r, depth) {
  const k = Math.floor(r() * (depth > 2 ? 4 : 7))
  switch (k) {
    case 0: return Math.floor(r() * 2e9) - 1e9
    case 1: return r() < 0.5
    case 2: return null
    case 3: return Array.from({ length: Math.floor(r() * 12) }, () => ALPHABET[Math.floor(r() * ALPHABET.length)]).join('')
    case 4: return r() * 1e6
    case 5: return Array.from({ length: Math.floor(r() * 4) }, () => genValue(r, depth + 1))
    default: {
      const o = {}
      for (let i = Math.floor(r() * 4); i > 0; i--) o['k' + Math.floor(r() * 100) + ALPHABET[Math.floor(r() * 5)]] = genValue(r, depth + 1)
      return o
    }
  }
}
function genSession (r) {
  const maxAge = 1000 * (60 + Math.floor(r() * 86400))
  const sess = {
    cookie: r() < 0.2
      ? { originalMaxAge: null, expires: null, httpOnly: true, path: '/' }
      : { originalMaxAge: maxAge, expires: new Date(Date.now() + maxAge).toISOString(), secure: r() < 0.5, httpOnly: true, path: '/' }
  }
  for (let i = Math.floor(r() * 5); i >= 0; i--) sess['f' + i] = genValue(r, 0)
  return sess
}

async function setup (t, opts = {}) {
  const prefix = `test:redis:${rand()}:`
  const client = createClient({ url: `redis://127.0.0.1:${REDIS_PORT}` })
  client.on('error', () => {})
  await client.connect()
  // a generous timeout: this machine may be loaded (the fault tests check the timeouts)
  const ours = new RedisStore({ transport: TRANSPORT, port: REDIS_PORT, prefix, commandTimeout: 10000, ...opts })
  const theirs = new ConnectRedis({ client, prefix, ...opts })
  t.after(async () => {
    for await (const keys of client.scanIterator({ MATCH: prefix.replace(/[*?[\]\\]/g, '\\$&') + '*', COUNT: 100 })) {
      if (keys.length) await client.del(keys)
    }
    await ours.close()
    await client.quit()
  })
  return { prefix, client, ours, theirs }
}

test('lifecycle with Promises and callbacks', async (t) => {
  if (!await redisOrSkip(t)) return
  const { ours, client, prefix } = await setup(t)
  const sess = { cookie: { originalMaxAge: 60000, expires: new Date(Date.now() + 60000) }, user: 'ann' }
  assert.strictEqual(await ours.set('s1', sess), undefined)
  assert.deepStrictEqual(await ours.get('s1'), JSON.parse(JSON.stringify(sess)))
  assert.strictEqual(await ours.get('nope'), null)
  const viaCb = await new Promise((resolve, reject) => ours.get('s1', (err, v) => err ? reject(err) : resolve(v)))
  assert.strictEqual(viaCb.user, 'ann')
  await new Promise((resolve, reject) => ours.set('s2', { cookie: {}, n: 2 }, (err) => err ? reject(err) : resolve()))
  assert.strictEqual(await ours.length(), 2)
  assert.deepStrictEqual((await ours.ids()).sort(), ['s1', 's2'])
  const all = await ours.all()
  assert.deepStrictEqual(all.map((s) => s.id).sort(), ['s1', 's2'])
  assert.strictEqual(all.find((s) => s.id === 's2').n, 2)
  // s2 has no expiry: the ttl option (86400 s)
  const ttl2 = await client.ttl(prefix + 's2')
  assert.ok(ttl2 > 86000 && ttl2 <= 86400, `ttl ${ttl2}`)
  await ours.destroy('s1')
  assert.strictEqual(await ours.get('s1'), null)
  await ours.clear()
  assert.strictEqual(await ours.length(), 0)
  assert.deepStrictEqual(await ours.all(), [])
})

test('connect-redis interop, both directions, seeded sessions: keys, bytes, TTLs', async (t) => {
  if (!await redisOrSkip(t)) return
  const seed = 20261125
  const r = rng(seed)
  const a = await setup(t) // ours and theirs on the same prefix
  const b = await setup(t) // a second prefix, to write the same session with each
  for (let i = 0; i < 60; i++) {
    const sess = genSession(r)
    const sid = `sid-${i}-${rand()}`
    const viaOurs = i % 2 === 0
    if (viaOurs) await a.ours.set(sid, sess)
    else await a.theirs.set(sid, sess)
    // what was written is read the same by both
    const expected = JSON.parse(JSON.stringify(sess))
    assert.deepStrictEqual(await a.ours.get(sid), expected, `seed ${seed} #${i}`)
    assert.deepStrictEqual(await a.theirs.get(sid), expected, `seed ${seed} #${i}`)
    // the same session written by each gives the same bytes and the same TTL
    await b.ours.set('o' + sid, sess)
    await b.theirs.set('t' + sid, sess)
    const [so, st] = await Promise.all([b.client.get(b.prefix + 'o' + sid), b.client.get(b.prefix + 't' + sid)])
    assert.strictEqual(so, st, `seed ${seed} #${i}`)
    assert.strictEqual(so, JSON.stringify(sess))
    const [to, tt] = await Promise.all([b.client.ttl(b.prefix + 'o' + sid), b.client.ttl(b.prefix + 't' + sid)])
    assert.ok(Math.abs(to - tt) <= 1 && to > 0, `ttl ${to} vs ${tt}`)
  }
  // enumeration agrees
  assert.strictEqual(await a.ours.length(), 60)
  assert.strictEqual(await a.theirs.length(), 60)
  assert.deepStrictEqual((await a.ours.ids()).sort(), (await a.theirs.ids()).sort())
  const byId = (x, y) => x.id < y.id ? -1 : 1
  assert.deepStrictEqual((await a.ours.all()).sort(byId), (await a.theirs.all()).sort(byId))
  // touch by either side moves the key's expiry
  const sid = (await a.ours.ids())[0]
  const later = { cookie: { expires: new Date(Date.now() + 3600e3) } }
  await a.ours.touch(sid, later)
  const t1 = await a.client.ttl(a.prefix + sid)
  assert.ok(t1 > 3590 && t1 <= 3600, `ttl after our touch ${t1}`)
  await a.theirs.touch(sid, { cookie: { expires: new Date(Date.now() + 7200e3) } })
  assert.ok((await a.client.ttl(a.prefix + sid)) > 7100)
  // destroy and clear across
  await a.theirs.destroy(sid)
  assert.strictEqual(await a.ours.get(sid), null)
  await a.ours.clear()
  assert.strictEqual(await a.theirs.length(), 0)
  await a.theirs.set('x', { cookie: {} })
  await a.theirs.clear()
  assert.strictEqual(await a.ours.length(), 0)
})

test('options: ttl number and function, disableTTL, disableTouch, ttl <= 0 deletes', async (t) => {
  if (!await redisOrSkip(t)) return
  const fn = await setup(t, { ttl: (sess) => sess.long ? 5000 : 50 })
  await fn.ours.set('a', { cookie: { expires: new Date(Date.now() + 1e6) }, long: true })
  assert.ok(await fn.client.ttl(fn.prefix + 'a') > 4900)
  await fn.ours.set('b', { cookie: {} })
  assert.ok(await fn.client.ttl(fn.prefix + 'b') <= 50)
  const badFn = await setup(t, { ttl: () => 'soon' })
  await assert.rejects(badFn.ours.set('c', { cookie: {} }), TypeError)
  assert.strictEqual(await badFn.client.exists(badFn.prefix + 'c'), 0)

  const num = await setup(t, { ttl: 77 })
  await num.ours.set('a', { cookie: {} })
  assert.strictEqual(await num.client.ttl(num.prefix + 'a'), 77)
  // an expiry in the past deletes, as connect-redis does
  await num.ours.set('a', { cookie: { expires: new Date(Date.now() - 5000) } })
  assert.strictEqual(await num.client.exists(num.prefix + 'a'), 0)

  const nottl = await setup(t, { disableTTL: true })
  await nottl.ours.set('a', { cookie: { expires: new Date(Date.now() + 60000) } })
  assert.strictEqual(await nottl.client.ttl(nottl.prefix + 'a'), -1)
  await nottl.ours.touch('a', { cookie: { expires: new Date(Date.now() + 60000) } })
  assert.strictEqual(await nottl.client.ttl(nottl.prefix + 'a'), -1)

  const notouch = await setup(t, { disableTouch: true })
  await notouch.ours.set('a', { cookie: { expires: new Date(Date.now() + 60000) } })
  await notouch.ours.touch('a', { cookie: { expires: new Date(Date.now() + 3600e3) } })
  assert.ok(await notouch.client.ttl(notouch.prefix + 'a') <= 60)
})

test('a prefix with glob characters only enumerates its own keys', async (t) => {
  if (!await redisOrSkip(t)) return
  const base = `test:redis:${rand()}:`
  const client = createClient({ url: `redis://127.0.0.1:${REDIS_PORT}` })
  await client.connect()
  const store = new RedisStore({ transport: TRANSPORT, port: REDIS_PORT, prefix: base + 'p*[ab]?\\:' })
  t.after(async () => { await store.close(); await client.del([base + 'pX[ab]?\\:z', base + 'pa:z']); await client.quit() })
  // keys the unescaped pattern `p*[ab]?\:*` would match
  await client.set(base + 'pX[ab]?\\:z', '{}')
  await client.set(base + 'pa:z', '{}')
  await store.set('mine', { cookie: {} })
  assert.deepStrictEqual(await store.ids(), ['mine'])
  await store.clear()
  assert.strictEqual(await client.exists(base + 'pX[ab]?\\:z'), 1)
  assert.strictEqual(await client.exists(base + 'pa:z'), 1)
})

test('expiry on read: untouched sessions end with cookie.expires, touched ones live on', async (t) => {
  if (!await redisOrSkip(t)) return
  const { ours, theirs, client, prefix } = await setup(t)
  const past = new Date(Date.now() - 10).toISOString()
  const json = JSON.stringify({ cookie: { expires: past }, v: 1 })
  // the key's last (rounded-up) second after cookie.expires: connect-redis serves it, we do not
  await client.set(prefix + 'last', json, { PX: 900 })
  assert.ok(await theirs.get('last'), 'connect-redis serves it (the oracle shows the gap)')
  assert.strictEqual(await ours.get('last'), null)
  assert.strictEqual(await ours.getJSON('last'), null)
  assert.deepStrictEqual(await ours.all(), [])
  // touched: the key was extended far past the stale stored expiry
  await client.set(prefix + 'touched', json, { EX: 600 })
  assert.deepStrictEqual(await ours.get('touched'), JSON.parse(json))
  // a real touch through the store keeps an old session alive
  await ours.set('real', { cookie: { expires: new Date(Date.now() + 1500) }, v: 2 })
  await ours.touch('real', { cookie: { expires: new Date(Date.now() + 600e3) } })
  const stored = await client.get(prefix + 'real')
  assert.ok(JSON.parse(stored).cookie.expires, 'touch does not rewrite the JSON')
  // wait until the stored expiry has passed, then it is still served
  const until = new Date(JSON.parse(stored).cookie.expires).getTime()
  while (Date.now() <= until + 5) await new Promise((resolve) => setTimeout(resolve, 50))
  assert.strictEqual((await ours.get('real')).v, 2)
  // no TTL on the key (disableTTL): the stored expiry decides
  await client.set(prefix + 'nottl', json)
  assert.strictEqual(await ours.get('nottl'), null)
})

test('getJSON and setJSON store and return the exact string', async (t) => {
  if (!await redisOrSkip(t)) return
  const { ours, theirs, client, prefix } = await setup(t)
  const json = '{"cookie":{"originalMaxAge":60000,"expires":"2099-01-01T00:00:00.000Z"},"x":"é😀"}'
  const sess = JSON.parse(json)
  sess.cookie.expires = new Date(Date.now() + 30000) // the TTL comes from the session argument
  await ours.setJSON('j', json, sess)
  assert.strictEqual(await client.get(prefix + 'j'), json)
  const ttl = await client.ttl(prefix + 'j')
  assert.ok(ttl > 25 && ttl <= 30, `ttl ${ttl}`)
  assert.strictEqual(await ours.getJSON('j'), json)
  assert.deepStrictEqual(await theirs.get('j'), JSON.parse(json))
  assert.strictEqual(await ours.getJSON('missing'), null)
  const viaCb = await new Promise((resolve, reject) => ours.getJSON('j', (e, v) => e ? reject(e) : resolve(v)))
  assert.strictEqual(viaCb, json)
  await assert.rejects(ours.setJSON('j', { not: 'a string' }, sess), { code: 'ERR_INVALID_ARG_TYPE' })
  assert.strictEqual(await client.get(prefix + 'j'), json)
})

test('bad input: an error to the caller, nothing else touched, process alive', async (t) => {
  if (!await redisOrSkip(t)) return
  const { ours, client, prefix } = await setup(t)
  for (const sid of [undefined, null, 5, {}, ['a']]) {
    await assert.rejects(ours.get(sid), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' })
    await assert.rejects(ours.set(sid, { cookie: {} }), TypeError)
    await assert.rejects(ours.destroy(sid), TypeError)
    await assert.rejects(ours.touch(sid, { cookie: {} }), TypeError)
    const err = await new Promise((resolve) => ours.get(sid, resolve))
    assert.ok(err instanceof TypeError)
  }
  // JSON.stringify refuses these: nothing written
  const circular = { cookie: {} }
  circular.self = circular
  await assert.rejects(ours.set('c', circular), TypeError)
  await assert.rejects(ours.set('b', { cookie: {}, n: 1n }), TypeError)
  const err = await new Promise((resolve) => ours.set('b', { cookie: {}, n: 1n }, resolve))
  assert.ok(err instanceof TypeError)
  assert.strictEqual(await client.exists([prefix + 'c', prefix + 'b']), 0)
  // malformed data found in Redis
  await client.set(prefix + 'bad', '{"cookie":')
  await assert.rejects(ours.get('bad'), { code: 'ERR_REDIS_BAD_DATA' })
  await assert.rejects(ours.getJSON('bad'), { code: 'ERR_REDIS_BAD_DATA' })
  await assert.rejects(ours.all(), { code: 'ERR_REDIS_BAD_DATA' })
  await client.set(prefix + 'bad', '"a string"')
  await assert.rejects(ours.get('bad'), { code: 'ERR_REDIS_BAD_DATA' })
  await client.del(prefix + 'bad')
  await client.hSet(prefix + 'hash', 'a', '1')
  await assert.rejects(ours.get('hash'), { code: 'ERR_REDIS_COMMAND' })
  // in one batch (one pipeline) the bad key fails alone
  await ours.set('good', { cookie: {}, g: 1 })
  const mixed = await Promise.allSettled([ours.get('good'), ours.get('hash'), ours.set('good2', { cookie: {} }), ours.get('bad2')])
  assert.deepStrictEqual(mixed.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled', 'fulfilled'])
  assert.strictEqual(mixed[0].value.g, 1)
  assert.strictEqual(mixed[1].reason.code, 'ERR_REDIS_COMMAND')
  assert.strictEqual(mixed[3].value, null)
  await client.del(prefix + 'hash')
  // the store still works, and an empty value reads as no session (connect-redis: `!data`)
  await client.set(prefix + 'empty', '')
  assert.strictEqual(await ours.get('empty'), null)
  await ours.set('ok', { cookie: {}, fine: true })
  assert.strictEqual((await ours.get('ok')).fine, true)
  // bad options
  assert.throws(() => new RedisStore({ transport: TRANSPORT, commandTimeout: -1 }), { code: 'ERR_REDIS_CONFIG' })
  assert.throws(() => new RedisStore({ transport: TRANSPORT, port: 70000 }), { code: 'ERR_REDIS_CONFIG' })
  assert.throws(() => new RedisStore({ transport: TRANSPORT, url: 'http://x' }), /bad Redis options/)
})

test('many operations in flight settle, each with its own result', async (t) => {
  if (!await redisOrSkip(t)) return
  const { ours } = await setup(t)
  const n = 10000 // more than the store settles between two renewals of its table of pending operations
  await Promise.all(Array.from({ length: n }, (_, i) => ours.set('m' + i, { cookie: {}, i })))
  const got = await Promise.all(Array.from({ length: n }, (_, i) => ours.get('m' + i)))
  got.forEach((s, i) => assert.strictEqual(s.i, i))
  assert.strictEqual(await ours.length(), n)
  assert.strictEqual((await ours.all()).length, n)
  await ours.clear()
  assert.strictEqual(await ours.length(), 0)
})

test('close: pending operations settle, later ones fail with ERR_REDIS_CLOSED', async (t) => {
  if (!await redisOrSkip(t)) return
  const prefix = `test:redis:${rand()}:`
  const store = new RedisStore({ transport: TRANSPORT, port: REDIS_PORT, prefix })
  t.after(async () => { // the write that was in flight at close() landed: remove it
    const cleaner = new RedisStore({ port: REDIS_PORT, prefix })
    await cleaner.destroy('x')
    await cleaner.close()
  })
  const p = store.set('x', { cookie: {} })
  await store.close()
  await p.catch(() => {})
  await assert.rejects(store.get('x'), { code: 'ERR_REDIS_CLOSED' })
  const err = await new Promise((resolve) => store.get('x', resolve))
  assert.strictEqual(err.code, 'ERR_REDIS_CLOSED')
  await new RedisStore({ transport: TRANSPORT, port: REDIS_PORT }).close()
})

test('transport: a single node over plain TCP uses a socket on this thread; tokio when asked, for TLS and clusters', async (t) => {
  const plain = new RedisStore({ port: 1 })
  const url = new RedisStore({ url: 'redis://user:pw@127.0.0.1:1/2' })
  const tokio = new RedisStore({ port: 1, transport: 'tokio' })
  const tls = new RedisStore({ port: 1, tls: true })
  const cluster = new RedisStore({ cluster: [{ port: 1 }] })
  t.after(() => Promise.all([plain, url, tokio, tls, cluster].map((s) => s.close())))
  assert.deepStrictEqual([plain, url, tokio, tls, cluster].map((s) => s.transport), ['node', 'node', 'tokio', 'tokio', 'tokio'])
  assert.throws(() => new RedisStore({ port: 1, tls: true, transport: 'node' }), { code: 'ERR_REDIS_CONFIG' })
  assert.throws(() => new RedisStore({ transport: 'udp' }), { code: 'ERR_REDIS_CONFIG' })
})

test('large and non-ASCII sessions cross intact, in any reply chunking, beside small ones', async (t) => {
  if (!await redisOrSkip(t)) return
  const { ours, client, prefix } = await setup(t)
  const big = { cookie: {}, blob: 'x'.repeat(3 * 1024 * 1024), tail: 'end' } // many socket reads
  const text = { cookie: {}, latin: 'café crème ÿ', wide: 'セッション 🍪 \u2028', nul: 'a\u0000b' }
  await Promise.all([ours.set('big', big), ours.set('text', text), ours.set('small', { cookie: {}, n: 1 })])
  assert.strictEqual(await client.get(prefix + 'text'), JSON.stringify(text))
  assert.strictEqual((await client.get(prefix + 'big')).length, JSON.stringify(big).length)
  const got = await Promise.all([ours.get('small'), ours.get('big'), ours.get('text'), ours.get('none'), ours.get('small')])
  assert.strictEqual(got[0].n, 1)
  assert.strictEqual(got[1].blob.length, big.blob.length)
  assert.strictEqual(got[1].tail, 'end')
  assert.deepStrictEqual(got[2], text)
  assert.strictEqual(got[3], null)
  assert.strictEqual(got[4].n, 1)
  assert.strictEqual(await ours.getJSON('text'), JSON.stringify(text))
})
