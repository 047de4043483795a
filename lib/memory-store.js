'use strict'
// MemoryStore: an express-session store whose sessions live off the V8 heap, in Rust
// (src/store/memory). Every method takes an optional callback and returns a Promise;
// the native calls are synchronous and the callback is deferred (lib/util.js settleSync).
const { Store } = require('express-session')
const native = require('./native')
const { settleSync, expiresAt, codedError } = require('./util')
const { LocalLocks, Tombstones } = require('./locks')
const merge = require('./merge')
const { cookieJSON, stringifySession } = require('./session/json')

function checkSid (sid) {
  if (typeof sid !== 'string') {
    throw codedError('ERR_INVALID_ARG_TYPE', `sid must be a string, got ${sid === null ? 'null' : typeof sid}`, TypeError)
  }
}

function checkSession (session) {
  if (session === null || typeof session !== 'object' || session.cookie == null || typeof session.cookie !== 'object') {
    throw codedError('ERR_INVALID_SESSION', 'session must be an object with a cookie (an express-session Session)', TypeError)
  }
}

// A number option: undefined/null/Infinity → fallback, else a positive number.
function numberOption (options, name, fallback, integer) {
  const v = options[name]
  if (v === undefined || v === null || v === Infinity) return fallback
  if (typeof v !== 'number' || !(v > 0) || (integer && !Number.isInteger(v))) {
    throw codedError('ERR_INVALID_ARG_VALUE', `options.${name} must be a positive ${integer ? 'integer' : 'number'}, got ${String(v)}`, TypeError)
  }
  return v
}

class MemoryStore extends Store {
  // options: max (sessions, LRU), ttl (ms, for sessions without cookie.expires),
  // sweepInterval (ms, background removal of expired sessions, default 60000),
  // shared (a name: one store for every worker thread of the process), compress (true).
  constructor (options = {}) {
    super()
    if (options === null || typeof options !== 'object') options = {}
    const max = numberOption(options, 'max', 0, true)
    const ttl = numberOption(options, 'ttl', 0, false)
    const sweep = numberOption(options, 'sweepInterval', 60000, false)
    const shared = options.shared
    if (shared !== undefined && (typeof shared !== 'string' || shared === '')) {
      throw codedError('ERR_INVALID_ARG_VALUE', 'options.shared must be a non-empty string', TypeError)
    }
    try {
      this._h = native.memCreate(max, ttl, sweep, options.compress !== false, shared)
    } catch (err) {
      const m = /^(ERR_[A-Z_]+): (.*)$/s.exec(err.message)
      throw m ? codedError(m[1], `shared MemoryStore '${shared}': ${m[2]}`) : err
    }
    this.shared = shared
    this._closed = false
    // concurrent writes (lib/merge.js): destroyed ids for `tombstoneTtl` ms, session locks
    this._tombs = new Tombstones(numberOption(options, 'tombstoneTtl', 60000, false))
    this._locks = null
  }

  _open () {
    if (this._closed) throw codedError('ERR_STORE_CLOSED', 'MemoryStore is closed')
    return this._h
  }

  // Bytes of session data held, expired or not (diagnostics and tests).
  _dataBytes () {
    return native.memDataBytes(this._open())
  }

  get (sid, cb) {
    return settleSync(() => {
      const json = this._json(sid)
      return json === undefined ? undefined : merge.parseLoaded(json)
    }, cb)
  }

  // the stored JSON of `sid` as is (expiry-checked), undefined when missing or expired
  _json (sid) {
    checkSid(sid)
    const json = native.memGet(this._open(), sid)
    return json == null ? undefined : json
  }

  set (sid, session, cb) {
    if (merge.isLoaded(session)) return merge.mergeSet(this, sid, session, cb) // README "Concurrent writes"
    return settleSync(() => {
      checkSid(sid)
      checkSession(session)
      const json = stringifySession(session)
      native.memSet(this._open(), sid, json, expiresAt(session))
    }, cb)
  }

  touch (sid, session, cb) {
    return settleSync(() => {
      checkSid(sid)
      checkSession(session)
      const cookie = cookieJSON(session.cookie) // JSON.stringify(cookie), built field by field
      if (typeof cookie !== 'string') checkSession(null)
      native.memTouch(this._open(), sid, cookie, expiresAt(session))
    }, cb)
  }

  destroy (sid, cb) {
    return settleSync(() => {
      checkSid(sid)
      native.memDestroy(this._open(), sid)
      this._tombs.add(sid)
    }, cb)
  }

  all (cb) {
    return settleSync(() => {
      const all = JSON.parse(native.memAllJson(this._open()))
      return Object.assign(Object.create(null), all)
    }, cb)
  }

  length (cb) {
    return settleSync(() => native.memLength(this._open()), cb)
  }

  ids (cb) {
    return settleSync(() => native.memIds(this._open()), cb)
  }

  clear (cb) {
    return settleSync(() => { native.memClear(this._open()); this._tombs.clear() }, cb)
  }

  // Releases this store: its sessions and background sweeping go, unless it is a shared
  // store another handle still has open (the last close frees it). Idempotent.
  close (cb) {
    return settleSync(() => {
      if (this._closed) return
      this._closed = true
      native.memClose(this._h)
    }, cb)
  }

  // For the native session middleware: the stored JSON as is (already expiry-checked),
  // undefined when missing or expired.
  getJSON (sid, cb) {
    return settleSync(() => this._json(sid), cb)
  }

  // Stores `json` (the caller's JSON.stringify(session)) as is; `session` gives the expiry.
  setJSON (sid, json, session, cb) {
    return settleSync(() => {
      checkSid(sid)
      if (typeof json !== 'string') {
        throw codedError('ERR_INVALID_ARG_TYPE', 'json must be a string', TypeError)
      }
      checkSession(session)
      native.memSet(this._open(), sid, json, expiresAt(session))
    }, cb)
  }
}

// Concurrent writes (lib/merge.js, README "Concurrent writes"): the compare-and-set is one
// native call under the store's lock, atomic for every handle in every worker thread.
// (Tombstones and locks are kept per handle: a store `shared` between worker threads sees
// another thread's destroy through the session being gone, not through a tombstone.)
Object.assign(MemoryStore.prototype, {
  createSession: merge.createSession,

  // Stores `json` if the stored JSON is `expected` (null: if there is no session and the id
  // was not destroyed lately). → 'ok', 'gone' (destroyed/expired), 'fenced' (`token` no
  // longer holds the lock) or the stored JSON (a conflict).
  casJSON (sid, expected, json, session, token, cb) {
    return this._cas(sid, expected, json, session, token, cb)
  },

  // (the same, for set(): express-session's save is one store write, not two)
  _cas (sid, expected, json, session, token, cb) {
    return settleSync(() => {
      checkSid(sid)
      if (typeof json !== 'string') throw codedError('ERR_INVALID_ARG_TYPE', 'json must be a string', TypeError)
      if (expected != null && typeof expected !== 'string') throw codedError('ERR_INVALID_ARG_TYPE', 'expected must be a string or null', TypeError)
      checkSession(session)
      const h = this._open()
      if (token != null && !(this._locks !== null && this._locks.holds(sid, token))) return 'fenced'
      if (expected == null && this._tombs.has(sid)) {
        // destroyed lately: a save of a new session must not re-create it
        const cur = native.memGet(h, sid)
        return cur != null ? cur : 'gone'
      }
      const r = native.memCas(h, sid, expected ?? null, json, expiresAt(session))
      return r === 0 ? 'ok' : r === 1 ? 'gone' : r
    }, cb)
  },

  // cb(err, token): the lock of `sid`, held until unlockSession or `leaseMs`; fails with
  // ERR_SESSION_LOCK_TIMEOUT after `waitMs`.
  lockSession (sid, leaseMs, waitMs, cb) {
    try {
      checkSid(sid)
      this._open()
    } catch (err) { process.nextTick(cb, err); return }
    if (this._locks === null) this._locks = new LocalLocks()
    this._locks.lock(sid, leaseMs, waitMs, cb)
  },

  unlockSession (sid, token, cb) {
    if (this._locks !== null) this._locks.unlock(sid, token)
    if (typeof cb === 'function') process.nextTick(cb, null)
  }
})

module.exports = { MemoryStore }
