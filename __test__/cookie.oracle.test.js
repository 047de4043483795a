'use strict'
// Oracle tests: thousands of seeded generated inputs through the real JS packages
// (cookie@0.7.2, cookie-signature 1.2.2 and 1.0.7, cookie-parser 1.4.7, express-session's
// read) and through native-session: identical results, errors (type and message) included.
const test = require('node:test')
const assert = require('node:assert')
const cookieParser = require('cookie-parser')
const ns = require('..')
const { Keyring } = require('../lib/keyring')
const g = require('./helpers/cookie-gen')
const { cookie, sig122, sig107, outcome } = g

const SEED = Number(process.env.COOKIE_SEED || 20241125)
const N = 3000

function sameOutcome (got, want, what) {
  assert.deepStrictEqual(got, want, what)
  if (want.value && typeof want.value === 'object') {
    assert.deepStrictEqual(Object.keys(got.value), Object.keys(want.value), what + ' (key order)')
    assert.strictEqual(Object.getPrototypeOf(got.value), Object.getPrototypeOf(want.value))
  }
}

test(`parse: ${N} generated headers equal cookie@0.7.2 (seed ${SEED})`, () => {
  const r = g.rng(SEED)
  for (let i = 0; i < N; i++) {
    const h = i % 10 === 9 ? g.randomString(r, 60) : g.randomHeader(r)
    sameOutcome(outcome(() => ns.parse(h)), outcome(() => cookie.parse(h)), JSON.stringify(h))
  }
})

test('parse: custom decode functions run as cookie runs them', () => {
  const r = g.rng(SEED + 1)
  const decoders = [
    (v) => v.toUpperCase(),
    (v) => { throw new Error('nope ' + v) },
    (v) => v.length,
    decodeURIComponent,
    5 // not a function: cookie's try/catch turns the TypeError into the raw value
  ]
  for (let i = 0; i < 500; i++) {
    const h = g.randomHeader(r)
    const decode = r.pick(decoders)
    const seenNs = []
    const seenJs = []
    const wrap = (seen) => typeof decode === 'function' ? (v) => { seen.push(v); return decode(v) } : decode
    sameOutcome(outcome(() => ns.parse(h, { decode: wrap(seenNs) })), outcome(() => cookie.parse(h, { decode: wrap(seenJs) })), JSON.stringify(h))
    assert.deepStrictEqual(seenNs, seenJs, 'decode called on the same values in the same order')
  }
})

test('parse: a header with more than 1024 cookies and a 1 MB header', () => {
  const many = Array.from({ length: 1500 }, (_, i) => `c${i % 1200}=v${i}`).join('; ')
  sameOutcome(outcome(() => ns.parse(many)), outcome(() => cookie.parse(many)), 'many')
  const r = g.rng(SEED + 2)
  let big = ''
  while (big.length < 1 << 20) big += g.randomHeader(r) + '; '
  sameOutcome(outcome(() => ns.parse(big)), outcome(() => cookie.parse(big)), 'big')
})

test(`sign/unsign: ${N} generated values and secrets equal cookie-signature 1.2.2 and 1.0.7`, () => {
  const r = g.rng(SEED + 3)
  for (let i = 0; i < N; i++) {
    const value = g.randomString(r, 50)
    const secret = g.randomSecret(r)
    const signed = sig122.sign(value, secret)
    assert.strictEqual(ns.sign(value, secret), signed)
    assert.strictEqual(sig107.sign(value, secret), signed)
    for (let j = 0; j < 3; j++) {
      const input = g.tamper(r, signed)
      const want = sig122.unsign(input, secret)
      // 1.0.7 compares SHA-1 digests of the strings instead of timingSafeEqual: the same
      // answers (checked here); ours is constant time like 1.2.x.
      assert.strictEqual(sig107.unsign(input, secret), want)
      assert.strictEqual(ns.unsign(input, secret), want, JSON.stringify({ input }))
      assert.strictEqual(new Keyring(secret).unsign(input), want)
    }
  }
})

test('unsign with secret arrays: tried in order like cookie-parser and express-session', () => {
  const r = g.rng(SEED + 4)
  for (let i = 0; i < 1000; i++) {
    const secrets = Array.from({ length: 1 + r.int(3) }, () => g.randomSecret(r))
    const by = r.pick(secrets.concat([g.randomSecret(r)]))
    const value = g.randomString(r, 30)
    const input = g.tamper(r, sig122.sign(value, by))
    let want = false
    for (const s of secrets) {
      const v = sig122.unsign(input, s)
      if (v !== false) { want = v; break }
    }
    assert.strictEqual(ns.unsign(input, secrets), want)
    assert.strictEqual(ns.sign(value, secrets), sig122.sign(value, secrets[0]))
  }
})

test('sign/unsign: wrong argument types throw what cookie-signature throws', () => {
  const odd = [undefined, null, 0, 1, true, {}, [], () => {}, Symbol('s'), 1n, new Date(0)]
  for (const v of odd) {
    for (const s of ['k', null, undefined, 5, {}, true]) {
      assert.deepStrictEqual(outcome(() => ns.sign(v, s)), outcome(() => sig122.sign(v, s)))
      assert.deepStrictEqual(outcome(() => ns.unsign(v, s)), outcome(() => sig122.unsign(v, s)))
    }
  }
  for (const s of [null, undefined, 5, {}, true, 1n]) {
    assert.deepStrictEqual(outcome(() => ns.sign('v', s)), outcome(() => sig122.sign('v', s)))
    assert.deepStrictEqual(outcome(() => ns.unsign('v.x', s)), outcome(() => sig122.unsign('v.x', s)))
  }
})

test(`getSessionId: ${N} generated requests equal express-session's read`, () => {
  const r = g.rng(SEED + 5)
  for (let i = 0; i < N; i++) {
    const secrets = Array.from({ length: 1 + r.int(3) }, () => g.randomString(r, 20))
    const name = r.chance(0.7) ? 'connect.sid' : g.randomName(r)
    const sid = g.randomString(r, 32)
    let v = 's:' + sig122.sign(sid, r.pick(secrets.concat(['other'])))
    v = g.tamper(r, v)
    if (r.chance(0.6)) v = encodeURIComponent(v.isWellFormed() ? v : 'x')
    if (r.chance(0.1)) v = '"' + v + '"'
    const pairs = g.randomHeader(r, 4).split(';')
    pairs.splice(r.int(pairs.length + 1), 0, ` ${name}=${v}`)
    if (r.chance(0.2)) pairs.push(`${name}=s:${sig122.sign('second', secrets[0])}`)
    const header = r.chance(0.03) ? r.pick([undefined, '']) : pairs.join(';')
    const want = g.expressSessionRead(header, name, secrets)
    assert.strictEqual(g.expressSessionRead(header, name, secrets, sig122), want)
    const got = outcome(() => ns.getSessionId(header, { name, secret: secrets }))
    if (name === '__proto__') assert.deepStrictEqual(got, { value: undefined })
    else assert.deepStrictEqual(got, { value: want }, JSON.stringify({ header, name }))
    assert.deepStrictEqual(outcome(() => new Keyring(secrets).sessionId(header, name)), got)
  }
})

test(`signedCookie/signedCookies: generated cookies equal cookie-parser`, () => {
  const r = g.rng(SEED + 6)
  for (let i = 0; i < 1000; i++) {
    const secrets = Array.from({ length: 1 + r.int(3) }, () => g.randomString(r, 20))
    const secret = r.pick([secrets, secrets[0], '', undefined, []])
    const obj = {}
    for (let j = r.int(6); j > 0; j--) {
      const k = r.next()
      const v = k < 0.5 ? 's:' + g.tamper(r, sig122.sign(g.randomString(r, 20), r.pick(secrets))) : k < 0.9 ? g.randomString(r) : r.pick([5, null, undefined, {}, NaN])
      obj[g.randomName(r)] = v
    }
    for (const v of Object.values(obj)) {
      assert.deepStrictEqual(outcome(() => ns.signedCookie(v, secret)), outcome(() => cookieParser.signedCookie(v, secret)))
    }
    const a = { ...obj }
    const b = { ...obj }
    assert.deepStrictEqual(outcome(() => ns.signedCookies(a, secret)), outcome(() => cookieParser.signedCookies(b, secret)))
    assert.deepStrictEqual(a, b)
  }
})

test(`serialize: ${N} generated names, values and options equal cookie@0.7.2, errors included`, () => {
  const r = g.rng(SEED + 7)
  const pickOpt = () => {
    if (r.chance(0.2)) return undefined
    const o = {}
    if (r.chance(0.3)) o.maxAge = r.pick([0, 1, -1, 10.9, -0.5, 1e21, 2 ** 53, NaN, Infinity, -Infinity, '100', '1e3', 'abc', null, true, 86400000])
    if (r.chance(0.3)) o.domain = r.pick(['example.com', '.example.com', 'EXAMPLE.com', 'a-b.c', '-a.com', 'a..b', 'a.com.', '', 'x'.repeat(63) + '.com', 'x'.repeat(64) + '.com', 5, 'é.com', 'a_b.com'])
    if (r.chance(0.3)) o.path = r.pick(['/', '/a b', '/;', '/<', '/\u007f', '/é', '', 5, '/%20'])
    if (r.chance(0.3)) o.expires = r.pick([new Date(0), new Date(1e12), new Date(8.64e15), new Date(-8.64e15), new Date(NaN), 0, 'x', Date.now(), new Date(-62198755200000)])
    for (const f of ['httpOnly', 'secure', 'partitioned']) if (r.chance(0.3)) o[f] = r.pick([true, false, 1, 0, 'x', ''])
    if (r.chance(0.3)) o.priority = r.pick(['low', 'Medium', 'HIGH', 'x', true, 1, '', 'constructor', 'toString'])
    if (r.chance(0.3)) o.sameSite = r.pick([true, false, 'lax', 'Strict', 'NONE', 'x', 1, '', 'constructor'])
    if (r.chance(0.1)) o.encode = r.pick([(v) => v, (v) => String(v).toUpperCase(), 5, 'x', null])
    return o
  }
  for (let i = 0; i < N; i++) {
    const name = r.chance(0.7) ? r.pick(['foo', 'connect.sid', 'a!#$%&\'*+-.^_`|~Z9']) : r.pick([g.randomName(r), 5, undefined, null, {}])
    const value = r.chance(0.9) ? g.randomString(r, 30) : r.pick([5, undefined, null, {}, '"q"', 'a;b'])
    const o = pickOpt()
    assert.deepStrictEqual(outcome(() => ns.serialize(name, value, o)), outcome(() => cookie.serialize(name, value, o)), JSON.stringify({ name, value, o }))
  }
})
