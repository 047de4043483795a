'use strict'
// Cookie layer vs the JS packages it replaces, side by side in one run (`npm run bench
// cookie`; needs the release build, `npm run build`). Prints a markdown table.
const assert = require('node:assert')
const cookie = require('cookie')
const sig122 = require('cookie-signature')
const ns = require('..')
const { Keyring } = require('../lib/keyring')
// express-session 1.19 reads with its own nested cookie-signature 1.0.7.
const sigES = require(require.resolve('cookie-signature', { paths: [require.resolve('express-session')] }))

const SECRETS = ['the-new-secret-2f8a1c9e7b3d', 'the-old-secret-91c0d4e6a8f2'] // rotation
const SID = 'AbCdEfGhIjKlMnOpQrStUvWxYz012345' // 32 chars, like uid-safe(24)
const signedCookie = 's:' + sig122.sign(SID, SECRETS[1]) // signed with the SECOND secret
const header5 = '_ga=GA1.2.1234567890.1700000000; connect.sid=' + encodeURIComponent(signedCookie) +
  '; theme=dark; lang=en-US; _gid=GA1.2.987654321.1700000001'
let header4k = header5
for (let i = 0; header4k.length < 4096 - 60; i++) header4k += `; pref_${i}=${'v'.repeat(40)}${i}`

// express-session's getcookie() for req.headers.cookie.
function expressSessionRead (header, name, secrets, signature) {
  if (!header) return undefined
  const raw = cookie.parse(header)[name]
  if (!raw || raw.substr(0, 2) !== 's:') return undefined
  for (let i = 0; i < secrets.length; i++) {
    const v = signature.unsign(raw.slice(2), secrets[i])
    if (v !== false) return v
  }
  return undefined
}

const ring = new Keyring(SECRETS)
const opts = { name: 'connect.sid', secret: SECRETS }

// Same answers first: a benchmark of wrong results is worthless.
assert.strictEqual(ns.getSessionId(header5, opts), SID)
assert.strictEqual(expressSessionRead(header5, 'connect.sid', SECRETS, sigES), SID)
assert.strictEqual(ns.sign(SID, SECRETS[0]), sig122.sign(SID, SECRETS[0]))
assert.deepStrictEqual(ns.parse(header5), cookie.parse(header5))
assert.deepStrictEqual(ns.parse(header4k), cookie.parse(header4k))

let sink
function opsPerSec (fn, ms) {
  let n = 64
  for (;;) { // size a batch to ~10 ms
    const t = process.hrtime.bigint()
    for (let i = 0; i < n; i++) sink = fn()
    if (Number(process.hrtime.bigint() - t) > 10e6 || n > 1e8) break
    n *= 2
  }
  let ops = 0
  const t0 = process.hrtime.bigint()
  let el = 0
  while (el < ms * 1e6) {
    for (let i = 0; i < n; i++) sink = fn()
    ops += n
    el = Number(process.hrtime.bigint() - t0)
  }
  return ops / (el / 1e9)
}

// The machine is shared and its load moves: alternate the two sides in many short
// slices and take the median of each side, so both see the same conditions.
function compare (js, native, rounds = 15, ms = 120) {
  const a = []
  const b = []
  opsPerSec(js, 50); opsPerSec(native, 50) // warm up
  for (let r = 0; r < rounds; r++) {
    if (global.gc) global.gc()
    if (r % 2) { b.push(opsPerSec(native, ms)); a.push(opsPerSec(js, ms)) } else { a.push(opsPerSec(js, ms)); b.push(opsPerSec(native, ms)) }
  }
  const med = (x) => x.sort((p, q) => p - q)[x.length >> 1]
  return [med(a), med(b)]
}

const rows = [
  ['getSessionId (5 cookies, 2 secrets, 2nd signed)', 'express-session read: cookie.parse + cookie-signature 1.0.7', 10,
    () => expressSessionRead(header5, 'connect.sid', SECRETS, sigES), () => ns.getSessionId(header5, opts)],
  ['getSessionId (same)', 'cookie.parse + cookie-signature 1.2.2 unsign', 10,
    () => expressSessionRead(header5, 'connect.sid', SECRETS, sig122), () => ns.getSessionId(header5, opts)],
  ['Keyring#sessionId (same)', 'cookie.parse + cookie-signature 1.0.7', null,
    () => expressSessionRead(header5, 'connect.sid', SECRETS, sigES), () => ring.sessionId(header5, 'connect.sid')],
  ['sign (32-char id)', 'cookie-signature 1.2.2 sign', 5,
    () => sig122.sign(SID, SECRETS[0]), () => ns.sign(SID, SECRETS[0])],
  ['unsign (good, 1 secret)', 'cookie-signature 1.2.2 unsign', null,
    () => sig122.unsign(signedCookie.slice(2), SECRETS[1]), () => ns.unsign(signedCookie.slice(2), SECRETS[1])],
  [`parse (5 cookies, ${header5.length} B)`, 'cookie 0.7.2 parse', 1.5,
    () => cookie.parse(header5), () => ns.parse(header5)],
  [`parse (${header4k.length} B, ${Object.keys(cookie.parse(header4k)).length} cookies)`, 'cookie 0.7.2 parse', 3,
    () => cookie.parse(header4k), () => ns.parse(header4k)],
  ['serialize (express-session cookie, in JS)', 'cookie 0.7.2 serialize', null,
    () => cookie.serialize('connect.sid', signedCookie, { path: '/', httpOnly: true, expires: new Date(1e12) }),
    () => ns.serialize('connect.sid', signedCookie, { path: '/', httpOnly: true, expires: new Date(1e12) })]
]

const only = process.env.BENCH_ONLY
console.log('## cookies\n')
console.log('| operation | JS package | JS ops/s | native-session ops/s | ratio | target |')
console.log('| --- | --- | ---: | ---: | ---: | ---: |')
const fmt = (x) => Math.round(x).toLocaleString('en-US')
for (const [name, what, target, js, native] of rows) {
  if (only && !name.includes(only)) continue
  const [a, b] = compare(js, native)
  const ratio = b / a
  const t = target == null ? '' : `≥ ${target}× ${ratio >= target ? '✓' : '✗'}`
  console.log(`| ${name} | ${what} | ${fmt(a)} | ${fmt(b)} | ${ratio.toFixed(1)}× | ${t} |`)
}
console.log()
