'use strict'
// MemoryStore: express-session MemoryStore semantics (its real MemoryStore as the oracle on
// seeded random operations), the extras (max/LRU, ttl, sweeper, getJSON/setJSON), bad input.
const test = require('node:test')
const assert = require('node:assert')
const session = require('express-session')
const { MemoryStore } = require('..')

const DAY = 86400000

// mulberry32: a small seeded PRNG so failures replay
function rng (seed) {
  return () => {
    seed = (seed + 0x6D2B79F5) | 0
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const WORDS = ['a', 'é', '🎉', 'ü\u0000x', '"quoted"', '\\', 'cookie', '{"cookie":1}', 'ß中文', '\u2028', '']

function randomSession (r) {
  const pick = (a) => a[Math.floor(r() * a.length)]
  const when = r()
  const cookie = { originalMaxAge: DAY, secure: false, httpOnly: true, path: '/' }
  // far past / far future / none / Date object / invalid: never near "now" (no timing races)
  if (when < 0.2) cookie.expires = new Date(Date.now() - DAY - r() * DAY).toISOString()
  else if (when < 0.6) cookie.expires = new Date(Date.now() + DAY + r() * DAY).toISOString()
  else if (when < 0.8) cookie.expires = new Date(Date.now() + DAY)
  else if (when < 0.9) cookie.expires = 'not a date'
  const s = { cookie }
  const n = Math.floor(r() * 6)
  for (let i = 0; i < n; i++) {
    s[pick(WORDS) + i] = r() < 0.5 ? pick(WORDS).repeat(Math.floor(r() * 30)) : { n: r(), list: [pick(WORDS), null, true, i] }
  }
  return s
}

const cb = (fn) => new Promise((resolve, reject) => fn((err, v) => err ? reject(err) : resolve(v)))

test('same results as express-session MemoryStore on seeded random operations', async () => {
  for (const seed of [1, 2, 3, 42, 1234]) {
    const r = rng(seed)
    const ours = new MemoryStore()
    const oracle = new session.MemoryStore()
    const sids = Array.from({ length: 12 }, (_, i) => i % 4 ? `sid-${i}-${seed}` : `ü-${i}`)
    for (let step = 0; step < 400; step++) {
      const sid = sids[Math.floor(r() * sids.length)]
      const op = r()
      const where = `seed ${seed} step ${step}`
      if (op < 0.35) {
        const s = randomSession(r)
        await cb((f) => oracle.set(sid, s, f))
        await cb((f) => ours.set(sid, s, f))
      } else if (op < 0.6) {
        assert.deepStrictEqual(await cb((f) => ours.get(sid, f)), await cb((f) => oracle.get(sid, f)), where)
      } else if (op < 0.7) {
        await cb((f) => oracle.destroy(sid, f))
        await cb((f) => ours.destroy(sid, f))
      } else if (op < 0.85) {
        const s = randomSession(r)
        await cb((f) => oracle.touch(sid, s, f))
        await cb((f) => ours.touch(sid, s, f))
      } else if (op < 0.95) {
        assert.deepStrictEqual(await cb((f) => ours.all(f)), await cb((f) => oracle.all(f)), where)
      } else {
        assert.strictEqual(await cb((f) => ours.length(f)), await cb((f) => oracle.length(f)), where)
      }
    }
    assert.deepStrictEqual(await ours.all(), await cb((f) => oracle.all(f)))
    assert.deepStrictEqual((await ours.ids()).sort(), Object.keys(await cb((f) => oracle.all(f))).sort())
    await ours.clear()
    assert.strictEqual(await ours.length(), 0)
    await ours.close()
  }
})

test('get returns a copy; missing is undefined; callbacks are deferred and Promises resolve', async () => {
  const store = new MemoryStore()
  const s = { cookie: { expires: new Date(Date.now() + DAY) }, user: { name: 'Zoë 🎉' } }
  let sync = true
  const done = cb((f) => store.set('a', s, (err) => { assert.strictEqual(sync, false); f(err) }))
  sync = false
  await done
  const got = await store.get('a')
  assert.deepStrictEqual(got, JSON.parse(JSON.stringify(s)))
  got.user.name = 'changed'
  assert.strictEqual((await store.get('a')).user.name, 'Zoë 🎉')
  assert.strictEqual(await store.get('nope'), undefined)
  assert.strictEqual(await cb((f) => store.get('nope', f)), undefined)
  assert.strictEqual(Object.getPrototypeOf(await store.all()), null)
  assert.ok(store instanceof session.Store)
  await store.close()
})

test('touch updates only the cookie and the expiry', async () => {
  const store = new MemoryStore()
  const exp = new Date(Date.now() + 100000)
  await store.set('a', { cookie: { expires: exp, path: '/' }, n: 1, cookieish: { cookie: 1 } })
  await store.touch('a', { cookie: { expires: new Date(exp.getTime() + 5000), path: '/x' }, n: 2 })
  assert.deepStrictEqual(await store.get('a'), {
    cookie: { expires: new Date(exp.getTime() + 5000).toISOString(), path: '/x' }, n: 1, cookieish: { cookie: 1 }
  })
  // a touch that moves the expiry into the past ends the session
  await store.touch('a', { cookie: { expires: new Date(Date.now() - 1000) } })
  assert.strictEqual(await store.get('a'), undefined)
  // touching a missing session stores nothing
  await store.touch('b', { cookie: {} })
  assert.strictEqual(await store.length(), 0)
  await store.close()
})

test('expired sessions are never returned and are removed', async () => {
  const store = new MemoryStore()
  await store.set('past', { cookie: { expires: new Date(Date.now() - 1) } })
  await store.set('soon', { cookie: { expires: new Date(Date.now() + 150) } })
  await store.set('never', { cookie: { expires: null } })
  assert.strictEqual(await store.get('past'), undefined)
  assert.ok(await store.get('soon'))
  const t0 = Date.now()
  while (await store.get('soon')) {
    assert.ok(Date.now() - t0 < 20000)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  assert.deepStrictEqual(await store.ids(), ['never'])
  await store.close()
})

test('max keeps the most recently used sessions (gets and touches count as use)', async () => {
  const store = new MemoryStore({ max: 20 })
  const c = { cookie: { expires: new Date(Date.now() + DAY) } }
  for (let i = 0; i < 20; i++) await store.set(`s${i}`, { ...c, i })
  await store.get('s0')
  await store.touch('s1', c)
  await store.set('s2', { ...c, i: 'again' })
  for (let i = 20; i < 30; i++) await store.set(`s${i}`, { ...c, i })
  const alive = new Set(await store.ids())
  const want = new Set(['s0', 's1', 's2', ...Array.from({ length: 7 }, (_, i) => `s${i + 13}`), ...Array.from({ length: 10 }, (_, i) => `s${i + 20}`)])
  assert.deepStrictEqual(alive, want)
  assert.strictEqual(await store.length(), 20)
  await store.close()
})

test('ttl expires sessions that have no cookie.expires; touch renews them', async () => {
  const store = new MemoryStore({ ttl: 300 })
  await store.set('a', { cookie: { expires: null } })
  await store.set('b', { cookie: { expires: new Date(Date.now() + DAY) } })
  const t0 = Date.now()
  while (await store.get('a')) {
    assert.ok(Date.now() - t0 < 20000)
    await store.touch('b', { cookie: { expires: new Date(Date.now() + DAY) } })
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
  assert.ok(Date.now() - t0 >= 250, 'lived about its ttl')
  assert.ok(await store.get('b'), 'cookie.expires wins over ttl')
  await store.close()
})

test('the background sweeper removes expired sessions nobody reads', async () => {
  const store = new MemoryStore({ sweepInterval: 50 })
  for (let i = 0; i < 100; i++) await store.set(`e${i}`, { cookie: { expires: new Date(Date.now() + 100) }, pad: 'x'.repeat(100) })
  await store.set('keep', { cookie: { expires: null } })
  const keep = store._dataBytes()
  assert.ok(keep > 100 * 20)
  const t0 = Date.now()
  // dataBytes counts what is held, expired or not, and does not sweep by itself
  while (store._dataBytes() > 200) {
    assert.ok(Date.now() - t0 < 20000, 'swept within 20 s')
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
  assert.deepStrictEqual(await store.ids(), ['keep'])
  await store.close()
})

test('getJSON / setJSON store and return the exact JSON, expiry-checked', async () => {
  const store = new MemoryStore()
  const s = { cookie: { expires: new Date(Date.now() + DAY), path: '/' }, name: 'Ève 😀' }
  const json = JSON.stringify(s)
  await store.setJSON('a', json, s)
  assert.strictEqual(await store.getJSON('a'), json)
  assert.strictEqual(await cb((f) => store.getJSON('a', f)), json)
  assert.deepStrictEqual(await store.get('a'), JSON.parse(json))
  await store.set('b', s)
  assert.strictEqual(await store.getJSON('b'), json)
  assert.strictEqual(await store.getJSON('missing'), undefined)
  const old = { cookie: { expires: new Date(Date.now() - 1) } }
  await store.setJSON('c', JSON.stringify(old), old)
  assert.strictEqual(await store.getJSON('c'), undefined)
  await assert.rejects(store.setJSON('d', s, s), { code: 'ERR_INVALID_ARG_TYPE' })
  await assert.rejects(store.setJSON('d', json, {}), { code: 'ERR_INVALID_SESSION' })
  await assert.rejects(store.getJSON(5), { code: 'ERR_INVALID_ARG_TYPE' })
  await store.close()
})

test('bad input is an error through the callback or Promise, and changes nothing', async () => {
  const store = new MemoryStore()
  const good = { cookie: { expires: null }, v: 1 }
  await store.set('a', good)
  const cyclic = { cookie: {} }
  cyclic.self = cyclic
  const bad = [
    ['set', [1, good], TypeError],
    ['set', [null, good], TypeError],
    ['set', ['a', { v: 2 }], TypeError],
    ['set', ['a', null], TypeError],
    ['set', ['a', 'str'], TypeError],
    ['set', ['a', cyclic], TypeError],
    ['set', ['a', { cookie: {}, big: 10n }], TypeError],
    ['touch', ['a', { cookie: { toJSON () { throw new Error('nope') } } }], Error],
    ['touch', ['a', { v: 3 }], TypeError],
    ['get', [{}], TypeError],
    ['destroy', [undefined], TypeError]
  ]
  for (const [method, args, Type] of bad) {
    await assert.rejects(store[method](...args), Type, `${method} ${String(args[0])}`)
    const viaCb = await new Promise((resolve) => {
      const p = store[method](...args, (err) => resolve(err))
      p.then((v) => assert.strictEqual(v, undefined), () => assert.fail('rejected although a callback was given'))
    })
    assert.ok(viaCb instanceof Type)
  }
  assert.deepStrictEqual(await store.get('a'), good)
  assert.strictEqual(await store.length(), 1)
  assert.throws(() => new MemoryStore({ max: -1 }), { code: 'ERR_INVALID_ARG_VALUE' })
  assert.throws(() => new MemoryStore({ max: 1.5 }), { code: 'ERR_INVALID_ARG_VALUE' })
  assert.throws(() => new MemoryStore({ ttl: 'x' }), { code: 'ERR_INVALID_ARG_VALUE' })
  assert.throws(() => new MemoryStore({ shared: 3 }), { code: 'ERR_INVALID_ARG_VALUE' })
  await store.close()
})

test('after close every method fails with ERR_STORE_CLOSED; close is idempotent', async () => {
  const store = new MemoryStore()
  await store.set('a', { cookie: {} })
  await store.close()
  await store.close()
  for (const [m, args] of [['get', ['a']], ['set', ['a', { cookie: {} }]], ['touch', ['a', { cookie: {} }]],
    ['destroy', ['a']], ['all', []], ['length', []], ['ids', []], ['clear', []], ['getJSON', ['a']]]) {
    await assert.rejects(store[m](...args), { code: 'ERR_STORE_CLOSED' }, m)
    const err = await new Promise((resolve) => store[m](...args, resolve))
    assert.strictEqual(err.code, 'ERR_STORE_CLOSED')
  }
})

test('10k operations in flight on distinct and on shared sids', async () => {
  const store = new MemoryStore()
  const c = { expires: new Date(Date.now() + DAY) }
  await Promise.all(Array.from({ length: 10000 }, (_, i) => store.set(`d${i}`, { cookie: c, i })))
  const got = await Promise.all(Array.from({ length: 10000 }, (_, i) => store.get(`d${i}`)))
  got.forEach((s, i) => assert.strictEqual(s.i, i))
  assert.strictEqual(await store.length(), 10000)
  // shared sids: interleaved writes, the last write of each sid wins
  await Promise.all(Array.from({ length: 10000 }, (_, i) => new Promise((resolve, reject) =>
    store.set(`s${i % 10}`, { cookie: c, i }, (err) => err ? reject(err) : resolve()))))
  for (let k = 0; k < 10; k++) assert.strictEqual((await store.get(`s${k}`)).i, 9990 + k)
  await Promise.all(Array.from({ length: 10000 }, (_, i) => store.destroy(`d${i}`)))
  assert.strictEqual(await store.length(), 10)
  await store.close()
})

test('shared stores in one thread share sessions; the last close frees the name', async () => {
  const name = `t-${process.pid}-${Math.random()}`
  const a = new MemoryStore({ shared: name, max: 100 })
  const b = new MemoryStore({ shared: name, max: 100 })
  await a.set('x', { cookie: {}, v: 1 })
  assert.strictEqual((await b.get('x')).v, 1)
  assert.throws(() => new MemoryStore({ shared: name, max: 5 }), { code: 'ERR_SHARED_OPTIONS' })
  await a.close()
  await assert.rejects(a.get('x'), { code: 'ERR_STORE_CLOSED' })
  assert.strictEqual((await b.get('x')).v, 1, 'still open through b')
  await b.close()
  const c = new MemoryStore({ shared: name, max: 100 })
  assert.strictEqual(await c.get('x'), undefined)
  await c.close()
})

test('every character survives the trip (ASCII, Latin-1, beyond, astral) in values and sids', async () => {
  const store = new MemoryStore()
  let all = ''
  for (let c = 0; c < 0x300; c++) all += String.fromCharCode(c)
  const cases = ['plain', 'é à ü ÿ \u0080\u00ff', all, 'Zoë 🎉 中文 \u2028', 'x'.repeat(70000) + 'é']
  for (const [i, text] of cases.entries()) {
    for (const sid of [`s${i}`, `ü${i}🎉`, 'long'.repeat(100) + i]) {
      const s = { cookie: { expires: null }, text, [text.slice(0, 20)]: i }
      await store.set(sid, s)
      assert.deepStrictEqual(await store.get(sid), s, `case ${i} sid ${sid.slice(0, 10)}`)
      assert.strictEqual(await store.getJSON(sid), JSON.stringify(s))
    }
  }
  assert.strictEqual((await store.ids()).length, cases.length * 3)
  await store.close()
})
