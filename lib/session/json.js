'use strict'
// The session's JSON for change detection and for stores that take a string, byte for byte
// what express-session's hash and JSON.stringify(session) give, with less work.
const { Cookie } = require('express-session')

// JSON of the session without its top-level `cookie` (what express-session hashes): the
// property is blanked for the call, which keeps the key order JSON.stringify sees.
function stringifySansCookie (sess) {
  const cookie = sess.cookie
  if (cookie === undefined) return JSON.stringify(sess)
  sess.cookie = undefined
  try {
    return JSON.stringify(sess)
  } finally {
    sess.cookie = cookie
  }
}

// JSON.stringify(sess) from the cookie-less JSON, when `cookie` is the first key.
function stringifyWithCookie (sess, sans) {
  let first
  for (first in sess) break // eslint-disable-line no-unreachable-loop
  const cookie = sess.cookie
  if (first !== 'cookie' || cookie === undefined || !Object.hasOwn(sess, 'cookie')) return JSON.stringify(sess)
  const c = cookieJSON(cookie)
  if (c === undefined) return JSON.stringify(sess)
  return sans === '{}' ? '{"cookie":' + c + '}' : '{"cookie":' + c + ',' + sans.slice(1)
}

// JSON.stringify(sess) for a store's set: the fast way above for a plain object or an
// express-session Session (no toJSON of its own) whose cookie is a Cookie, else
// JSON.stringify itself (which also gives the errors: cycles, BigInt).
const ExpressSession = require('express-session').Session
function stringifySession (sess) {
  if (sess === null || typeof sess !== 'object' || !(sess.cookie instanceof Cookie) || 'toJSON' in sess) return JSON.stringify(sess)
  const proto = Object.getPrototypeOf(sess)
  if ((proto !== Object.prototype && !(sess instanceof ExpressSession)) || !Object.isExtensible(sess)) return JSON.stringify(sess)
  try {
    return stringifyWithCookie(sess, stringifySansCookie(sess))
  } catch {
    return JSON.stringify(sess) // a read-only cookie property: the plain way (and its error)
  }
}

// JSON.stringify(cookie) for a Cookie of plain values (what express-session's Cookie#toJSON
// gives, field by field in its order), or undefined to let JSON.stringify do it.
const COOKIE_FIELDS = ['originalMaxAge', 'partitioned', 'priority', '_expires', 'secure', 'httpOnly', 'domain', 'path', 'sameSite']
const COOKIE_KEYS = COOKIE_FIELDS.map((f) => '"' + (f === '_expires' ? 'expires' : f) + '":')
const cookieToJSON = Cookie.prototype.toJSON
function cookieJSON (cookie) {
  if (!(cookie instanceof Cookie) || cookie.toJSON !== cookieToJSON) return JSON.stringify(cookie)
  let out = ''
  for (let i = 0; i < COOKIE_FIELDS.length; i++) {
    const v = cookie[COOKIE_FIELDS[i]]
    let j
    if (v === undefined) continue
    else if (v === null) j = 'null'
    else if (v === true) j = 'true'
    else if (v === false) j = 'false'
    else if (typeof v === 'number') j = Number.isFinite(v) ? '' + v : 'null'
    else if (typeof v === 'string') j = JSON.stringify(v)
    else if (v instanceof Date && v.toJSON === Date.prototype.toJSON) j = isoJSON(v)
    else return JSON.stringify(cookie)
    out += (out === '' ? '{' : ',') + COOKIE_KEYS[i] + j
  }
  return out === '' ? '{}' : out + '}'
}

// Date#toJSON as JSON: the day's "YYYY-MM-DDT" cached, the time of day computed.
let isoDay = NaN
let isoPrefix = ''
const pad2 = (n) => n < 10 ? '0' + n : '' + n
function isoJSON (date) {
  const t = date.getTime()
  if (!(t >= 0 && t < 253402300800000)) return JSON.stringify(date) // outside years 1970..9999
  const day = Math.floor(t / 86400000)
  if (day !== isoDay) {
    isoDay = day
    isoPrefix = new Date(day * 86400000).toISOString().slice(0, 11)
  }
  const ms = t - day * 86400000
  const msPart = ms % 1000
  const secs = (ms - msPart) / 1000
  return '"' + isoPrefix + pad2(Math.floor(secs / 3600)) + ':' + pad2(Math.floor(secs / 60) % 60) + ':' + pad2(secs % 60) + '.' +
    (msPart < 10 ? '00' : msPart < 100 ? '0' : '') + msPart + 'Z"'
}

module.exports = { stringifySansCookie, stringifyWithCookie, stringifySession, cookieJSON }
