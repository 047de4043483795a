'use strict'
// Keyring: the secrets of signed cookies, their HMAC key states precomputed in Rust, so
// each sign / unsign / session-id read is one synchronous native call.
//
//   const ring = new Keyring(['new secret', 'old secret'])   // first signs, all verify
//   ring.sign('sid')                        // 'sid.<43 base64 chars>' (cookie-signature)
//   ring.unsign('sid.<sig>')                // 'sid', or false
//   ring.sessionId(req.headers.cookie, 'connect.sid')   // verified id, or undefined
//
// Internal (not exported by index.js); lib/cookie.js and the session middleware use it.

const crypto = require('node:crypto')
const { cookieKeyringCreate } = require('./native')

// The bytes crypto.createHmac would use as the key, or crypto's own TypeError.
function secretBytes (secret) {
  if (secret == null) throw new TypeError('Secret key must be provided.')
  if (typeof secret === 'string') return Buffer.from(secret, 'utf8')
  if (ArrayBuffer.isView(secret)) return Buffer.from(secret.buffer, secret.byteOffset, secret.byteLength)
  if (secret instanceof ArrayBuffer) return Buffer.from(secret)
  if (secret instanceof crypto.KeyObject && secret.type === 'secret') return secret.export()
  if (typeof CryptoKey !== 'undefined' && secret instanceof CryptoKey) {
    return secretBytes(crypto.KeyObject.from(secret))
  }
  crypto.createHmac('sha256', secret) // throws cookie-signature's (crypto's) error
  throw new TypeError('Secret key must be provided.')
}

class Keyring {
  // secret: a string, Buffer/Uint8Array (any ArrayBufferView), or a non-empty array of them.
  constructor (secret) {
    const list = Array.isArray(secret) ? secret : [secret]
    if (list.length === 0) throw new TypeError('secret option array must contain one or more strings')
    this.size = list.length
    // Three native functions sharing one Rust keyring (each HMAC key state precomputed).
    const [signature, verify, sessionId] = cookieKeyringCreate(list.map(secretBytes))
    this._signature = signature
    this._verify = verify
    this._sessionId = sessionId
  }

  // cookie-signature sign() with the first secret.
  sign (value) {
    if (typeof value !== 'string') throw new TypeError('Cookie value must be provided as a string.')
    return value + '.' + this._signature(value)
  }

  // cookie-signature 1.2.x unsign() with each secret in order: the value, or false.
  unsign (signed) {
    if (typeof signed !== 'string') throw new TypeError('Signed cookie string must be provided.')
    // Native code verifies the UTF-8 bytes (what crypto hashes); the value is cut from the
    // JS string itself, so a lone surrogate in it comes back unchanged.
    return this._verify(signed) === -1 ? false : signed.slice(0, signed.lastIndexOf('.'))
  }

  // express-session's cookie read: the first cookie called `name` (as cookie@0.7.2 parse
  // finds it, URL-decoded), which must be `s:` + a value signed by one of the secrets.
  sessionId (header, name) {
    if (!header) return undefined
    if (typeof header !== 'string') throw new TypeError('argument str must be a string')
    if (typeof name !== 'string') throw new TypeError('option name must be a string')
    // cookie.parse() builds a plain object: a "__proto__" cookie never lands in it.
    if (name === '__proto__') return undefined
    const id = this._sessionId(header, name)
    if (id !== false) return id
    // `false`: the cookie's value holds a lone surrogate, which can't come back from
    // Rust unchanged: the same steps, in JS.
    const cookies = require('./cookie').parse(header)
    const raw = Object.prototype.hasOwnProperty.call(cookies, name) ? cookies[name] : undefined
    if (!raw || !raw.startsWith('s:')) return undefined
    const unsigned = this.unsign(raw.slice(2))
    return unsigned === false ? undefined : unsigned
  }
}

// Keyrings reused per secret: strings by value, arrays of strings by identity (checked
// element by element, so editing the array is seen), binary secrets by their bytes (they
// can change in place). Anything else (a KeyObject) gets a fresh keyring each time.
const byString = new Map()
const byBytes = new Map()
const byArray = new WeakMap()
const MAX_CACHED = 64

function remember (map, key, make) {
  let ring = map.get(key)
  if (ring === undefined) {
    ring = make()
    if (map.size >= MAX_CACHED) map.clear()
    map.set(key, ring)
  }
  return ring
}

// A string naming a binary secret (or a list of secrets) by content; undefined if none.
function bytesKey (secret) {
  if (typeof secret === 'string') return 's' + secret.length + ':' + secret
  if (ArrayBuffer.isView(secret)) {
    return 'b' + secret.byteLength + ':' + Buffer.from(secret.buffer, secret.byteOffset, secret.byteLength).toString('latin1')
  }
  return undefined
}

function keyringFor (secret) {
  if (typeof secret === 'string') return remember(byString, secret, () => new Keyring(secret))
  if (Array.isArray(secret)) {
    const hit = byArray.get(secret)
    if (hit !== undefined && sameItems(hit.items, secret)) return hit.ring
    if (secret.every((s) => typeof s === 'string')) {
      const ring = new Keyring(secret)
      byArray.set(secret, { items: secret.slice(), ring })
      return ring
    }
    const keys = secret.map(bytesKey)
    if (secret.length === 0 || keys.includes(undefined)) return new Keyring(secret)
    return remember(byBytes, keys.join(''), () => new Keyring(secret))
  }
  const key = bytesKey(secret)
  return key === undefined ? new Keyring(secret) : remember(byBytes, key, () => new Keyring(secret))
}

function sameItems (a, b) {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

module.exports = { Keyring, keyringFor }
