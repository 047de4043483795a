'use strict'
// The middleware's JSON helpers against JSON.stringify on generated (seeded) sessions and
// cookies: the cookie-less JSON is what express-session hashes, the full one what a store
// would write.
const test = require('node:test')
const assert = require('node:assert')
const { Cookie, Session } = require('../lib/session/session')
const { cookieJSON, stringifyWithCookie, stringifySansCookie } = require('../lib/session/json')

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
