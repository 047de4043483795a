'use strict'
// Small helpers shared by the stores: the callback-and-Promise convention of API.md §2,
// reading a session's expiry as a number (how expiry crosses into Rust); and session()'s
// normalize of Express's req/res.

// With a callback, the result or error goes to the callback only (on a later tick, so a
// throwing callback is not swallowed) and the returned Promise never rejects; without
// one, the Promise is the result.
function settle (promise, cb) {
  if (typeof cb !== 'function') return promise
  return promise.then(
    (value) => { process.nextTick(cb, null, value); return value },
    (err) => { process.nextTick(cb, err) })
}

// Runs a synchronous operation (a native call) with the same convention; the callback is
// deferred with setImmediate, as express-session's MemoryStore defers its own. (Not
// process.nextTick: over HTTP, callbacks that run in the check phase let one turn of the
// event loop read many sockets before any response is written; with nextTick each request
// ran to its write alone, which cost ~35 µs more server CPU per request in bench/session.)
function settleSync (fn, cb) {
  let value
  try {
    value = fn()
  } catch (err) {
    if (typeof cb === 'function') { setImmediate(cb, err); return Promise.resolve() }
    return Promise.reject(err)
  }
  if (typeof cb === 'function') setImmediate(cb, null, value)
  return Promise.resolve(value)
}

// `session.cookie.expires` (a Date, or an ISO string after JSON) in ms since the epoch;
// undefined when the session has no expiry or it is not a valid date.
function expiresAt (session) {
  const e = session && session.cookie ? session.cookie.expires : undefined
  if (e == null || e === false) return undefined
  const t = typeof e === 'number' ? e : new Date(e).getTime()
  return Number.isFinite(t) ? t : undefined
}

// An Error with a stable `code`.
function codedError (code, message, Type = Error) {
  const err = new Type(message)
  err.code = code
  return err
}

// Express gives req and res a new prototype (Object.setPrototypeOf(req, app.request)) after
// Node has built them. V8 then never shares the hidden class ("map") of what is added to
// them afterwards: every request's req and res end up with a map of their own, and every
// property access on them, in Express, Node's http and here, misses V8's inline caches.
// Measured on Node 20: Express without sessions 45 -> 33 µs of CPU per request when req and
// res are first turned into dictionary-mode objects, whose lookups those caches do share.
// An object whose prototype is a class's own (Node's plain objects) keeps a shared map and
// is left alone: there the change would cost ~2 µs. Adding two properties and deleting the
// first is what makes V8 switch; symbols keep it invisible to Object.keys and for..in.
const kTmpA = Symbol('native-session normalize a')
const kTmpB = Symbol('native-session normalize b')
function normalize (obj) {
  const proto = Object.getPrototypeOf(obj)
  if (proto === null || Object.hasOwn(proto, 'constructor') || !Object.isExtensible(obj)) return
  obj[kTmpA] = 0
  obj[kTmpB] = 0
  delete obj[kTmpA]
  delete obj[kTmpB]
}

module.exports = { settle, settleSync, expiresAt, codedError, normalize }
