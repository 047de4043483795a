'use strict'
// Cookies (API.md §1): cookie-signature's sign/unsign, cookie@0.7.2's parse/serialize,
// cookie-parser's signedCookie(s), and express-session's cookie read as getSessionId.
// Signing, verifying, the session-id read and parsing are native; this file checks
// arguments the way those packages do, and runs in JS what needs a JS callback (custom
// `decode` / `encode`) and serialize (faster here than a native call).

const native = require('./native')
const { keyringFor } = require('./keyring')

const hasOwn = Object.prototype.hasOwnProperty
const objToString = Object.prototype.toString

// --- cookie-signature --------------------------------------------------------------------

function sign (value, secret) {
  if (typeof value !== 'string') throw new TypeError('Cookie value must be provided as a string.')
  return keyringFor(secret).sign(value)
}

function unsign (input, secret) {
  if (typeof input !== 'string') throw new TypeError('Signed cookie string must be provided.')
  return keyringFor(secret).unsign(input)
}

// --- express-session's read --------------------------------------------------------------

function getSessionId (header, options) {
  const opts = options || {}
  const name = opts.name === undefined ? 'connect.sid' : opts.name
  return keyringFor(opts.secret).sessionId(header, name)
}

// --- cookie-parser -----------------------------------------------------------------------

function signedCookie (str, secret) {
  if (typeof str !== 'string') return undefined
  if (!str.startsWith('s:')) return str
  const secrets = !secret || Array.isArray(secret) ? (secret || []) : [secret]
  if (secrets.length === 0) return false
  const value = str.slice(2)
  let ring
  try {
    ring = keyringFor(secret)
  } catch (err) {
    // A bad secret later in the list: cookie-parser only meets it if the earlier ones fail.
    for (let i = 0; i < secrets.length; i++) {
      const v = keyringFor(secrets[i]).unsign(value)
      if (v !== false) return v
    }
    throw err
  }
  return ring.unsign(value)
}

function signedCookies (obj, secret) {
  const keys = Object.keys(obj)
  const ret = Object.create(null)
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]
    const val = obj[key]
    const dec = signedCookie(val, secret)
    if (val !== dec) {
      ret[key] = dec
      delete obj[key]
    }
  }
  return ret
}

// --- cookie@0.7.2 parse ------------------------------------------------------------------

// Native parsing writes the count, then per kept pair [name id, name start, name end,
// value start, value end, source] into `records`: UTF-16 offsets into the header (source
// 0) or, for a %-decoded value, into the string of decoded values it returns (source 1).
// JS slices strings, so every character comes back as it was. Names get ids, so each
// name's key string is made once and reused.
const records = new Int32Array(1 + 6 * 1024)
const parseNative = native.cookieParserCreate(records)
const names = []

function parse (str, opt) {
  if (typeof str !== 'string') throw new TypeError('argument str must be a string')
  const dec = (opt && opt.decode) || null
  if (dec !== null) return parseJs(str, dec)
  const decoded = parseNative(str)
  if (decoded === false) return parseJs(str, decode) // more than 1024 cookies
  const obj = {}
  const n = records[0] + 1
  for (let i = 1; i < n; i += 6) {
    const id = records[i]
    let key
    if (id < 0) key = str.slice(records[i + 1], records[i + 2])
    else if ((key = names[id]) === undefined) key = names[id] = internalize(str.slice(records[i + 1], records[i + 2]))
    obj[key] = (records[i + 5] === 0 ? str : decoded).slice(records[i + 3], records[i + 4])
  }
  return obj
}

// The key string V8 keeps for a property name: reused as is on every later request.
function internalize (name) {
  return Object.keys({ [name]: 0 })[0]
}

function decode (str) {
  return str.indexOf('%') !== -1 ? decodeURIComponent(str) : str
}

function tryDecode (str, dec) {
  try {
    return dec(str)
  } catch (e) {
    return str
  }
}

function skipSpace (str, index, max) {
  do {
    const c = str.charCodeAt(index)
    if (c !== 0x20 && c !== 0x09) return index
  } while (++index < max)
  return max
}

function trimSpace (str, index, min) {
  while (index > min) {
    const c = str.charCodeAt(--index)
    if (c !== 0x20 && c !== 0x09) return index + 1
  }
  return min
}

// The exact algorithm in JS: for custom decoders and strings with lone surrogates.
function parseJs (str, dec) {
  const obj = {}
  const len = str.length
  if (len < 2) return obj
  let index = 0
  do {
    const eq = str.indexOf('=', index)
    if (eq === -1) break
    let end = str.indexOf(';', index)
    if (end === -1) {
      end = len
    } else if (eq > end) {
      index = str.lastIndexOf(';', eq - 1) + 1 // this '=' belongs to a later pair
      continue
    }
    const ks = skipSpace(str, index, eq)
    const key = str.slice(ks, trimSpace(str, eq, ks))
    if (!hasOwn.call(obj, key)) {
      let vs = skipSpace(str, eq + 1, end)
      let ve = trimSpace(str, end, vs)
      if (str.charCodeAt(vs) === 0x22 && str.charCodeAt(ve - 1) === 0x22) {
        vs++
        ve--
      }
      obj[key] = tryDecode(str.slice(vs, ve), dec)
    }
    index = end + 1
  } while (index < len)
  return obj
}

// --- cookie@0.7.2 serialize --------------------------------------------------------------
// In JS: measured, a native call with the options crossing costs more than these regular
// expressions and concatenations (0.6x cookie's speed). src/cookie.rs has the same
// serialize for Rust users.

function serialize (name, val, opt) {
  const enc = (opt && opt.encode) || encodeURIComponent
  if (typeof enc !== 'function') throw new TypeError('option encode is invalid')
  return serializeJs(name, val, opt, enc)
}

const cookieNameRegExp = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
const cookieValueRegExp = /^("?)[\u0021\u0023-\u002B\u002D-\u003A\u003C-\u005B\u005D-\u007E]*\1$/
const domainValueRegExp = /^([.]?[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)([.][a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i
const pathValueRegExp = /^[\u0020-\u003A\u003D-\u007E]*$/

function serializeJs (name, val, opt, enc) {
  if (!cookieNameRegExp.test(name)) throw new TypeError('argument name is invalid')
  const value = enc(val)
  if (!cookieValueRegExp.test(value)) throw new TypeError('argument val is invalid')
  let str = name + '=' + value
  if (!opt) return str
  if (opt.maxAge != null) {
    const maxAge = Math.floor(opt.maxAge)
    if (!isFinite(maxAge)) throw new TypeError('option maxAge is invalid')
    str += '; Max-Age=' + maxAge
  }
  if (opt.domain) {
    if (!domainValueRegExp.test(opt.domain)) throw new TypeError('option domain is invalid')
    str += '; Domain=' + opt.domain
  }
  if (opt.path) {
    if (!pathValueRegExp.test(opt.path)) throw new TypeError('option path is invalid')
    str += '; Path=' + opt.path
  }
  if (opt.expires) {
    const expires = opt.expires
    if (objToString.call(expires) !== '[object Date]' || isNaN(expires.valueOf())) {
      throw new TypeError('option expires is invalid')
    }
    str += '; Expires=' + expires.toUTCString()
  }
  if (opt.httpOnly) str += '; HttpOnly'
  if (opt.secure) str += '; Secure'
  if (opt.partitioned) str += '; Partitioned'
  if (opt.priority) {
    const p = typeof opt.priority === 'string' ? opt.priority.toLowerCase() : opt.priority
    if (p === 'low') str += '; Priority=Low'
    else if (p === 'medium') str += '; Priority=Medium'
    else if (p === 'high') str += '; Priority=High'
    else throw new TypeError('option priority is invalid')
  }
  if (opt.sameSite) {
    const s = typeof opt.sameSite === 'string' ? opt.sameSite.toLowerCase() : opt.sameSite
    if (s === true || s === 'strict') str += '; SameSite=Strict'
    else if (s === 'lax') str += '; SameSite=Lax'
    else if (s === 'none') str += '; SameSite=None'
    else throw new TypeError('option sameSite is invalid')
  }
  return str
}

module.exports = { sign, unsign, parse, serialize, signedCookie, signedCookies, getSessionId }
