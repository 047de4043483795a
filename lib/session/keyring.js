'use strict'
// The cookie layer the middleware runs on: `Keyring` (signing, and express-session's whole
// cookie read in one native call) and `serialize` (cookie@0.7.2), from lib/keyring.js and
// lib/cookie.js. Until those land, a temporary stand-in behind the same interface, built on
// the `cookie` / `cookie-signature` modules express-session itself depends on.
const { createRequire } = require('node:module')

let Keyring, serialize
try {
  Keyring = require('../keyring').Keyring
  serialize = require('../cookie').serialize
} catch (err) {
  if (err.code !== 'MODULE_NOT_FOUND') throw err
}

if (typeof Keyring !== 'function' || typeof serialize !== 'function') {
  const esRequire = createRequire(require.resolve('express-session'))
  const cookie = esRequire('cookie')
  const signature = esRequire('cookie-signature')
  serialize = cookie.serialize
  Keyring = class Keyring {
    constructor (secret) {
      this.secrets = Array.isArray(secret) ? secret : [secret]
    }

    sign (value) { return signature.sign(value, this.secrets[0]) }

    unsign (signed) {
      for (const s of this.secrets) {
        const v = signature.unsign(signed, s)
        if (v !== false) return v
      }
      return false
    }

    sessionId (header, name) {
      if (!header) return undefined
      const raw = cookie.parse(header)[name]
      if (!raw || raw.substr(0, 2) !== 's:') return undefined
      const v = this.unsign(raw.slice(2))
      return v === false ? undefined : v
    }
  }
}

module.exports = { Keyring, serialize }
