'use strict'
// TEMPORARY: stands in for lib/keyring.js (the native signed-cookie read) until it lands,
// with the same interface: `new Keyring(secret).sessionId(cookieHeader, name)` gives the
// verified session id or undefined (never an unverified id). Removed when keyring lands.
const crypto = require('node:crypto')

class Keyring {
  constructor (secret) {
    const list = Array.isArray(secret) ? secret : [secret]
    if (list.length === 0 || list.some((s) => !(typeof s === 'string' || s instanceof Uint8Array) || s.length === 0)) {
      throw new TypeError('secret required')
    }
    this.secrets = list
  }

  sessionId (header, name) {
    if (typeof header !== 'string' || header === '') return undefined
    let raw
    for (const part of header.split(';')) {
      const eq = part.indexOf('=')
      if (eq < 0 || part.slice(0, eq).trim() !== name) continue
      raw = part.slice(eq + 1).trim()
      break
    }
    if (raw === undefined) return undefined
    if (raw[0] === '"' && raw[raw.length - 1] === '"' && raw.length > 1) raw = raw.slice(1, -1)
    if (raw.includes('%')) { try { raw = decodeURIComponent(raw) } catch {} }
    if (!raw.startsWith('s:')) return undefined
    const signed = raw.slice(2)
    const dot = signed.lastIndexOf('.')
    if (dot < 0) return undefined
    const value = signed.slice(0, dot)
    const mac = Buffer.from(signed.slice(dot + 1))
    for (const secret of this.secrets) {
      const expected = Buffer.from(crypto.createHmac('sha256', secret).update(value).digest('base64').replace(/=+$/, ''))
      if (expected.length === mac.length && crypto.timingSafeEqual(expected, mac)) return value
    }
    return undefined
  }
}

module.exports = { Keyring }
