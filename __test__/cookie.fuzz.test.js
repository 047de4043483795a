'use strict'
// Fuzz / property test of the cookie layer: garbage, huge inputs, lone surrogates and
// control characters through parse, unsign, getSessionId and the native functions
// directly. Properties: never a crash or hang (a panic would abort this process), and
// always the JS packages' answer. Bounded: FUZZ_SECONDS (default 6) of generated input.
//   FUZZ_SECONDS=300 node --test __test__/cookie.fuzz.test.js   # a longer run
//   FUZZ_SEED=123 …                                              # another sequence
const test = require('node:test')
const assert = require('node:assert')
const ns = require('..')
const native = require('../lib/native')
const { Keyring } = require('../lib/keyring')
const g = require('./helpers/cookie-gen')
const { cookie, sig122, outcome } = g

const SECONDS = Number(process.env.FUZZ_SECONDS || 6)
const SEED = Number(process.env.FUZZ_SEED || Date.now() % 1e9)

// Raw garbage: any UTF-16 units, biased towards the characters the parser cares about.
function garbage (r, max) {
  const n = r.int(max)
  const units = new Array(n)
  for (let i = 0; i < n; i++) {
    const k = r.next()
    units[i] = k < 0.3 ? r.pick([0x3D, 0x3B, 0x20, 0x09, 0x22, 0x25, 0x2E, 0x73, 0x3A])
      : k < 0.5 ? r.int(0x20) // control characters
        : k < 0.6 ? 0xD800 + r.int(0x800) // surrogates, paired or not
          : k < 0.9 ? 0x20 + r.int(0x60)
            : r.int(0x10000)
  }
  let s = ''
  for (let i = 0; i < n; i += 4096) s += String.fromCharCode.apply(null, units.slice(i, i + 4096))
  return s
}

function input (r) {
  const k = r.next()
  if (k < 0.4) return garbage(r, 200)
  if (k < 0.8) return g.randomHeader(r, 12)
  if (k < 0.98) return garbage(r, 5000)
  return garbage(r, 300000) // huge
}

test(`fuzz parse, unsign, getSessionId for ${SECONDS}s (FUZZ_SEED=${SEED})`, (t) => {
  const r = g.rng(SEED)
  const secrets = ['fuzz-secret-1', Buffer.from('fuzz-secret-2')]
  const ring = new Keyring(secrets)
  const deadline = Date.now() + SECONDS * 1000
  let runs = 0
  while (Date.now() < deadline) {
    runs++
    const h = input(r)
    assert.deepStrictEqual(outcome(() => ns.parse(h)), outcome(() => cookie.parse(h)), `parse, seed ${SEED}, run ${runs}`)
    const signed = r.chance(0.5) ? sig122.sign(h, secrets[r.int(2)]) : h
    const u = g.tamper(r, signed)
    let want = sig122.unsign(u, secrets[0])
    if (want === false) want = sig122.unsign(u, secrets[1])
    assert.strictEqual(ns.unsign(u, secrets), want, `unsign, seed ${SEED}, run ${runs}`)
    const name = r.chance(0.5) ? 'connect.sid' : g.randomName(r)
    const value = r.chance(0.5) && u.isWellFormed() ? encodeURIComponent(u) : u
    const header = r.chance(0.3) ? h : `${name}=s:${value}; ${h}`
    const got = ring.sessionId(header, name)
    const exp = name === '__proto__' ? undefined : g.expressSessionRead(header, name, secrets, sig122)
    assert.strictEqual(got, exp, `getSessionId, seed ${SEED}, run ${runs}`)
  }
  assert.ok(runs > 10, `ran ${runs} rounds`)
  t.diagnostic(`${runs} rounds, seed ${SEED}`)
})

test('native functions given wrong types throw TypeErrors, never crash', () => {
  const [signature, verify, sessionId] = native.cookieKeyringCreate([Buffer.from('k')])
  const parseNative = native.cookieParserCreate(new Int32Array(7))
  const odd = [undefined, null, 1, 1.5, -1, NaN, true, {}, [], Symbol('x'), 1n, () => {}, Buffer.from('x')]
  for (const v of odd) {
    for (const fn of [signature, verify, parseNative, (x) => sessionId(x, 'n'), (x) => sessionId('a=b', x)]) {
      assert.throws(() => fn(v), TypeError)
    }
  }
  // Too small an output array: the JS path is asked for, nothing is written out of bounds.
  assert.strictEqual(parseNative('a=1; b=2'), false)
  assert.strictEqual(native.cookieParserCreate(new Int32Array(0))('a=1'), false)
  assert.throws(() => native.cookieParserCreate(new Uint32Array(8)))
  assert.throws(() => native.cookieKeyringCreate(['not bytes']))
  // Calls with missing arguments.
  assert.throws(() => signature(), TypeError)
  assert.throws(() => sessionId(), TypeError)
})

test('empty, one-character and separator-only inputs', () => {
  const ring = new Keyring('k')
  for (const h of ['', '=', ';', ' ', '"', '%', '==', ';=', '=;', '"=";', ' = ', '\uD800', '\uD800=', '=\uDC00', 's:', 's:.']) {
    assert.deepStrictEqual(ns.parse(h), cookie.parse(h), JSON.stringify(h))
    assert.strictEqual(ns.unsign(h, 'k'), sig122.unsign(h, 'k'))
    assert.strictEqual(ring.sessionId(h, ''), g.expressSessionRead(h, '', ['k'], sig122))
  }
})
