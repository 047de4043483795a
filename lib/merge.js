'use strict'
// Concurrent writes to one session (README "Concurrent writes"): HTTP requests and
// websocket RPCs load a session, work, and save it; a blind overwrite loses whatever the
// others saved meanwhile. Here a save writes only the top-level keys this handler changed
// since the load, onto the session as it is in the store now:
//   1. compare-and-set: "store `json` if the stored JSON is still the one we loaded";
//   2. on a conflict, take the stored JSON, apply our changed keys (set or delete) onto it,
//      JSON.stringify it (so the bytes are exactly what JSON.stringify of the merged
//      session gives) and compare-and-set again, a bounded number of times.
// A session that was loaded and is gone at save time (destroyed: logout) is never written
// back; a destroyed id also leaves a short-lived tombstone so that a save of a session
// that never existed in the store (a new one) cannot re-create it either.
// Stores offer `casJSON(sid, expected, json, session, token, cb)` → 'ok' | 'gone' |
// 'fenced' | the current JSON (a conflict), and optionally lockSession/unlockSession.
const ExpressStore = require('express-session').Store
const { codedError } = require('./util')
const { stringifySession } = require('./session/json')

const kLoaded = Symbol('native-session.loaded') // the JSON the session was loaded from
const kStored = Symbol('native-session.stored') // the JSON this session last stored
const kLock = Symbol('native-session.lock') // the lock token it holds, if any
const kNoMerge = Symbol('native-session.noMerge') // on a request: `merge: false`

// Each round of compare-and-set lets at least one contender through, so a save retries until
// it is through, up to MAX_TRIES; past a few tries, with a short random pause (at most
// 25 ms) so that a crowd of writers on one session does not spin.
const MAX_TRIES = 200

// The top-level keys of `sess` that differ from `base` (a parsed object): added,
// changed or deleted, compared by their JSON. `cookie` always counts as ours (it carries
// the expiry this save sets, as every store's set does).
function changedKeys (base, sess) {
  const out = []
  for (const k of Object.keys(sess)) {
    if (k === 'cookie') { out.push(k); continue }
    const v = sess[k]
    // primitives compare as they are (what JSON.parse gave back, unless changed)
    if (v === null || typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v))) {
      if (!Object.hasOwn(base, k) || base[k] !== v) out.push(k)
      continue
    }
    const now = JSON.stringify(v)
    if (now === undefined) {
      if (Object.hasOwn(base, k)) out.push(k)
    } else if (!Object.hasOwn(base, k) || JSON.stringify(base[k]) !== now) {
      out.push(k)
    }
  }
  for (const k of Object.keys(base)) if (!Object.hasOwn(sess, k)) out.push(k)
  return out
}

// `current` (stored JSON) with the keys of `sess` listed in `keys` applied: the JSON.
function applyKeys (current, sess, keys) {
  const obj = JSON.parse(current)
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
    throw codedError('ERR_SESSION_BAD_DATA', 'the stored session is not a JSON object')
  }
  for (const k of keys) {
    const present = Object.hasOwn(sess, k) && JSON.stringify(sess[k]) !== undefined
    if (!present) delete obj[k]
    else if (k === '__proto__') Object.defineProperty(obj, k, { value: sess[k], enumerable: true, writable: true, configurable: true })
    else obj[k] = sess[k]
  }
  return JSON.stringify(obj)
}

function goneError (sid) {
  return codedError('ERR_SESSION_GONE',
    'the session was destroyed (or expired) after it was loaded; it is not written back')
}

// Saves `sess` (whose full JSON is `json`) by merging; cb(err). `cb` gets ERR_SESSION_GONE
// when the session is destroyed, ERR_SESSION_LOCK_LOST when a lock it held expired and
// someone else took it, ERR_SESSION_CONFLICT after MAX_TRIES conflicts in a row.
// Saves of one session from this process run one after the other, each starting from the
// JSON the previous one stored: many writers in one process cost one round trip each
// instead of a storm of compare-and-set conflicts (conflicts remain for other processes).
const queues = new WeakMap() // store → Map(sid → { jobs, last })

function mergeSave (store, sess, json, cb, sid = sess.id, cas = store.casJSON) {
  let m = queues.get(store)
  if (m === undefined) queues.set(store, (m = new Map()))
  let q = m.get(sid)
  const job = () => casSave(store, sess, json, sid, cas, q, (err) => {
    const next = q.jobs.shift()
    if (next !== undefined) next()
    else forget(store, sid)
    cb(err)
  })
  if (q !== undefined) { q.jobs.push(job); return }
  q = { jobs: [], last: undefined }
  m.set(sid, q)
  job()
}

// Drops the queue of `sid`. The Map is replaced instead of shrunk when it empties, and
// every 4096 drops: a long-lived Map with steady churn keeps dead entries alive through
// young-generation GCs (see RedisStore#_renewPending).
let drops = 0
function forget (store, sid) {
  const m = queues.get(store)
  m.delete(sid)
  if (m.size === 0) queues.delete(store)
  else if (++drops >= 4096) { drops = 0; queues.set(store, new Map(m)) }
}

function casSave (store, sess, json, sid, cas, q, cb) {
  const loaded = sess[kLoaded]
  const token = sess[kLock]
  let expected = q.last !== undefined ? q.last : sess[kStored] !== undefined ? sess[kStored] : (loaded !== undefined ? loaded : null)
  // the fast path: nobody else wrote since we loaded, the whole session is the result
  let next = expected === null || expected === loaded ? json : null
  let keys = null
  let tries = 0
  const attempt = () => {
    try {
      if (next === null) {
        if (keys === null) keys = changedKeys(loaded !== undefined ? JSON.parse(loaded) : {}, sess)
        next = applyKeys(expected, sess, keys)
      }
    } catch (err) {
      return cb(err)
    }
    cas.call(store, sid, expected, next, sess, token, (err, r) => {
      if (err) return cb(err)
      if (r === 'ok') { sess[kStored] = q.last = next; return cb(null) }
      if (r === 'gone') return cb(goneError(sid))
      if (r === 'fenced') {
        return cb(codedError('ERR_SESSION_LOCK_LOST',
          'the session lock expired (its lease ran out) and another request took it; this save is refused'))
      }
      if (typeof r !== 'string') return cb(codedError('ERR_SESSION_BAD_DATA', 'unexpected compare-and-set reply'))
      if (++tries >= MAX_TRIES) {
        return cb(codedError('ERR_SESSION_CONFLICT', `the session kept changing under this save (${MAX_TRIES} tries)`))
      }
      expected = q.last = r
      next = null
      if (tries < 4) attempt()
      else setTimeout(attempt, Math.random() * Math.min(2 ** (tries - 3), 25))
    })
  }
  attempt()
}

// ---- express-session's own middleware on our stores (the Store contract) ----
// express-session loads with store.get, makes the Session with store.createSession and
// saves with store.set. Our stores' get marks the object with the JSON it came from, our
// createSession carries that mark onto the Session, and set merges a marked session (and
// skips it, as a no-op, when it was destroyed since: express-session would hand an error
// to next() after the response). Unmarked sessions (new ones, or any object) are stored
// as they are: the plain contract.

// JSON.parse(json), marked (not enumerable: invisible to JSON, deepEqual and copies).
function parseLoaded (json) {
  const sess = JSON.parse(json)
  if (sess !== null && typeof sess === 'object') Object.defineProperty(sess, kLoaded, { value: json, writable: true, configurable: true })
  return sess
}

function createSession (req, sess) {
  const loaded = sess[kLoaded]
  const s = ExpressStore.prototype.createSession.call(this, req, sess)
  if (loaded !== undefined) Object.defineProperty(s, kLoaded, { value: loaded, writable: true, configurable: true })
  return s
}
createSession.mergeAware = true

function isLoaded (sess) {
  return sess !== null && typeof sess === 'object' && typeof sess[kLoaded] === 'string'
}

// store.set of a marked session: cb(err); the Promise settles the same way.
function mergeSet (store, sid, sess, cb) {
  const p = new Promise((resolve, reject) => {
    let json
    try {
      json = stringifySession(sess)
    } catch (err) { reject(err); return }
    mergeSave(store, sess, json, (err) => (err && err.code !== 'ERR_SESSION_GONE' ? reject(err) : resolve()), sid, store._cas)
  })
  if (typeof cb !== 'function') return p
  return p.then(() => process.nextTick(cb, null), (err) => process.nextTick(cb, err))
}

// Whether saves of sessions of `req` merge through `store`.
function merging (store, req) {
  return typeof store.casJSON === 'function' && !(req && req[kNoMerge])
}

module.exports = {
  kLoaded, kStored, kLock, kNoMerge, changedKeys, applyKeys, mergeSave, merging, parseLoaded, createSession, isLoaded, mergeSet
}
