'use strict'
// The middleware's JSON helpers against JSON.stringify on generated (seeded) sessions and
// cookies: the cookie-less JSON is what express-session hashes, the full one what a store
// would write.
const test = require('node:test')
const assert = require('node:assert')
const { Cookie, Session } = require('../lib/session/session')
const { cookieJSON, stringifyWithCookie, stringifySansCookie, stringifySession } = require('../lib/session/json')
const ExpressSession = require('express-session')

function rng (seed) {
  return () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648
}

test('cookieJSON and stringifyWithCookie equal JSON.stringify; stringifySansCookie equals the express-session hash input', () => {
  const rnd = rng(42)
  const pick = (a) => a[Math.floor(rnd() * a.length)]
  for (let i = 0; i < 50000; i++) {
    const c = new Cookie(pick([undefined, { maxAge: Math.floor(rnd() * 1e10) - 1e9 }, { expires: new Date(Math.floor(rnd() * 3e14) - 1e13) }, { maxAge: pick([0, -5, 1.5, NaN, null]) }]))
    if (rnd() < 0.3) c.domain = pick(['a.b', 'é"\\x\u2028', undefined, null])
    if (rnd() < 0.3) c.sameSite = pick(['lax', true, false, 'auto'])
    if (rnd() < 0.2) c.secure = pick([true, false, 'auto'])
    if (rnd() < 0.1) c.priority = pick(['high', 'low'])
    if (rnd() < 0.1) c.partitioned = pick([true, false])
    if (rnd() < 0.05) c.path = pick([{ x: 1 }, 5, '/p', [1]])
    if (rnd() < 0.05) c.expires = pick([new Date(NaN), 'str', null, new Date(253402300799999), new Date(253402300800000), new Date(-1), new Date(0)])
    assert.strictEqual(cookieJSON(c), JSON.stringify(c))
    const data = pick([{ cookie: c, a: rnd() }, { a: 1, cookie: c, 7: 'x' }, { cookie: c }, { 3: 1, cookie: c }, { cookie: c, s: 'ü\ud800', n: { cookie: 1 } }])
    const s = new Session({ sessionID: 'x' }, data)
    const sans = stringifySansCookie(s)
    assert.strictEqual(stringifyWithCookie(s, sans), JSON.stringify(s))
    // express-session's hash input: JSON.stringify with the top-level cookie left out
    assert.strictEqual(sans, JSON.stringify(s, function (key, val) { return this === s && key === 'cookie' ? undefined : val }))
    assert.strictEqual(s.cookie, c) // the cookie is put back
  }
})

test('stringifySession (a store\'s set) equals JSON.stringify, its errors included, and leaves the session as it was', () => {
  const rnd = rng(7)
  const pick = (a) => a[Math.floor(rnd() * a.length)]
  const cookie = () => pick([new Cookie({ maxAge: 1000 }), new ExpressSession.Cookie({ expires: new Date(1e12) }), { expires: '2030-01-01T00:00:00.000Z' }, new Cookie()])
  class Custom { constructor (c) { this.cookie = c; this.x = 1 } }
  const shapes = [
    (c) => ({ cookie: c, user: { id: rnd(), name: 'Zoë' }, n: rnd() }),
    (c) => ({ a: 1, cookie: c }), // cookie not first
    (c) => new Session({ sessionID: 'x' }, { cookie: c, v: [1, 'ü'] }),
    (c) => new ExpressSession.Session({ sessionID: 'y' }, { cookie: c, v: 2 }),
    (c) => Object.freeze({ cookie: c, v: 3 }),
    (c) => Object.defineProperty({ v: 4 }, 'cookie', { value: c, enumerable: true, writable: false }),
    (c) => ({ cookie: c, toJSON () { return { only: 'this' } } }),
    (c) => new Custom(c),
    (c) => Object.assign(Object.create(null), { cookie: c, v: 5 }),
    (c) => ({ cookie: c, 2: 'int key', v: undefined, f () {} })
  ]
  for (let i = 0; i < 5000; i++) {
    const sess = pick(shapes)(cookie())
    const before = Object.getOwnPropertyDescriptor(sess, 'cookie')
    assert.strictEqual(stringifySession(sess), JSON.stringify(sess))
    assert.deepStrictEqual(Object.getOwnPropertyDescriptor(sess, 'cookie'), before)
  }
  const cyclic = { cookie: new Cookie() }
  cyclic.self = cyclic
  assert.throws(() => stringifySession(cyclic), TypeError)
  assert.throws(() => stringifySession({ cookie: new Cookie(), n: 1n }), TypeError)
})
