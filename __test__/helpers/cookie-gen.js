'use strict'
// Seeded generators of cookie-layer inputs, shared by the oracle and fuzz tests, and the
// oracles themselves (the real JS packages, wired the way express-session uses them).
const cookie = require('cookie')
const sig122 = require('cookie-signature')
const sig107 = require('cookie-signature-1.0.7')

// mulberry32: small, fast, seeded.
function rng (seed) {
  let a = seed >>> 0
  const next = () => {
    a = (a + 0x6D2B79F5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const r = {
    next,
    int: (n) => Math.floor(next() * n),
    pick: (arr) => arr[Math.floor(next() * arr.length)],
    chance: (p) => next() < p
  }
  return r
}

// Characters that matter to the parser, plus the awkward ones.
const SPECIAL = ['=', ';', ' ', '\t', '"', '%', ',', '\\', '.', ':', 's', '\0', '\n', '\r', '\x7f',
  'é', '€', '😀', '\uD800', '\uDBFF', '\uDC00', '\uFFFD', '\u2028', '%2', '%zz', '%25', '%3B', '%E2%82%AC',
  '%ED%A0%80', '%C0%80', '%F0%9F%98%80', '%C3', '%c3%a9', '+', '/', '_', '-']
const NAMES = ['a', 'b', 'foo', 'connect.sid', 'sid', '__proto__', 'toString', 'hasOwnProperty',
  'constructor', 'valueOf', '1', '0', '42', '-1', '', ' ', 'a b', 'é', 'ä\uD800', '\uFFFD', '$', 'x.y',
  '_ga', 'theme', 'lang']

function randomString (r, max = 24, alphabet) {
  const n = r.int(max + 1)
  let s = ''
  for (let i = 0; i < n; i++) {
    const k = r.next()
    if (alphabet) s += r.pick(alphabet)
    else if (k < 0.55) s += String.fromCharCode(0x61 + r.int(26))
    else if (k < 0.8) s += r.pick(SPECIAL)
    else if (k < 0.9) s += String.fromCharCode(r.int(0x80))
    else s += String.fromCharCode(r.int(0x10000)) // anything, lone surrogates included
  }
  return s
}

function randomName (r) {
  return r.chance(0.6) ? r.pick(NAMES) : randomString(r, 8)
}

function randomHeader (r, maxPairs = 8) {
  const n = r.int(maxPairs + 1)
  const parts = []
  for (let i = 0; i < n; i++) {
    const k = r.next()
    const name = randomName(r)
    let value = randomString(r)
    if (r.chance(0.15)) value = '"' + value + '"'
    if (r.chance(0.1)) value = encodeURIComponent(value.isWellFormed() ? value : 'x')
    const sp = () => r.pick(['', '', ' ', '  ', '\t', ' \t'])
    if (k < 0.85) parts.push(sp() + name + sp() + '=' + sp() + value + sp())
    else if (k < 0.95) parts.push(sp() + name + sp()) // a pair without '='
    else parts.push(randomString(r, 6))
  }
  return parts.join(r.pick([';', '; ', ' ;', ';;', '; ']))
}

function randomSecret (r) {
  const k = r.next()
  if (k < 0.6) return randomString(r, 40)
  if (k < 0.8) return Buffer.from(randomString(r, 40))
  return new Uint8Array(Array.from({ length: r.int(100) }, () => r.int(256)))
}

// express-session 1.19's getcookie() on req.headers.cookie, taking only own cookies (it
// would throw on a `toString` name with no such cookie), with a given cookie-signature.
function expressSessionRead (header, name, secrets, signature = sig107) {
  if (!header) return undefined
  const cookies = cookie.parse(header)
  const raw = Object.prototype.hasOwnProperty.call(cookies, name) ? cookies[name] : undefined
  if (!raw || raw.substr(0, 2) !== 's:') return undefined
  for (let i = 0; i < secrets.length; i++) {
    const v = signature.unsign(raw.slice(2), secrets[i])
    if (v !== false) return v
  }
  return undefined
}

// Variants of a signed string that must not verify (or may, if unchanged).
function tamper (r, signed) {
  const k = r.int(8)
  if (k === 0) return signed + r.pick(['x', '=', '==', '.', ' '])
  if (k === 1) return signed.slice(0, -1 - r.int(3))
  if (k === 2) return signed.replace(/\+/g, '-').replace(/\//g, '_')
  if (k === 3) {
    const i = r.int(signed.length)
    return signed.slice(0, i) + String.fromCharCode(signed.charCodeAt(i) ^ 1) + signed.slice(i + 1)
  }
  if (k === 4) return randomString(r, 60)
  if (k === 5) return signed.slice(0, signed.lastIndexOf('.'))
  return signed
}

// Run fn; its result or its error as a comparable record.
function outcome (fn) {
  try {
    return { value: fn() }
  } catch (e) {
    return { error: e && e.constructor ? e.constructor.name : typeof e, message: e && e.message }
  }
}

module.exports = { rng, randomString, randomName, randomHeader, randomSecret, expressSessionRead, tamper, outcome, sig122, sig107, cookie }
