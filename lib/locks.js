'use strict'
// Per-session locks and tombstones of one process (MemoryStore's; RedisStore keeps both in
// Redis). A lock has a lease: a holder that never unlocks (a crashed handler) loses it
// when the lease runs out, and its token no longer passes the store's fencing check.
// Waiters queue in order; a wait past its timeout fails with ERR_SESSION_LOCK_TIMEOUT.
const { codedError } = require('./util')

function timeoutError (sid, waitMs) {
  return codedError('ERR_SESSION_LOCK_TIMEOUT', `could not lock the session within ${waitMs} ms (another request holds it)`)
}

class LocalLocks {
  constructor () {
    this.held = new Map() // sid → { token, timer, waiters: [{ cb, timer, lease }] }
    this.seq = 0
  }

  // cb(err, token)
  lock (sid, leaseMs, waitMs, cb) {
    const h = this.held.get(sid)
    if (h === undefined) return this._grant(sid, undefined, leaseMs, cb)
    const w = { cb, lease: leaseMs, timer: null }
    w.timer = setTimeout(() => {
      const i = h.waiters.indexOf(w)
      if (i !== -1) h.waiters.splice(i, 1)
      cb(timeoutError(sid, waitMs))
    }, waitMs)
    h.waiters.push(w)
  }

  _grant (sid, waiters, leaseMs, cb) {
    const token = String(++this.seq)
    const h = { token, timer: null, waiters: waiters || [] }
    h.timer = setTimeout(() => this._release(sid, h), leaseMs)
    h.timer.unref()
    this.held.set(sid, h)
    process.nextTick(cb, null, token)
  }

  _release (sid, h) {
    if (this.held.get(sid) !== h) return
    clearTimeout(h.timer)
    const w = h.waiters.shift()
    if (w === undefined) { this.held.delete(sid); return }
    clearTimeout(w.timer)
    this._grant(sid, h.waiters, w.lease, w.cb)
  }

  unlock (sid, token) {
    const h = this.held.get(sid)
    if (h !== undefined && h.token === token) this._release(sid, h)
  }

  holds (sid, token) {
    const h = this.held.get(sid)
    return h !== undefined && h.token === token
  }
}

// Destroyed ids, remembered for `ttlMs`.
class Tombstones {
  constructor (ttlMs) {
    this.ttl = ttlMs
    this.until = new Map()
    this.sweepAt = 0
  }

  add (sid) {
    const now = Date.now()
    // expired ids go in one pass at most every second (or ttl): walking the Map from its
    // front on every add is quadratic once its front is full of deleted entries
    if (now >= this.sweepAt) {
      for (const [k, t] of this.until) if (t <= now) this.until.delete(k)
      this.sweepAt = now + Math.min(this.ttl, 1000)
    }
    this.until.set(sid, now + this.ttl)
  }

  has (sid) {
    if (this.until.size === 0) return false
    const t = this.until.get(sid)
    if (t === undefined) return false
    if (t > Date.now()) return true
    this.until.delete(sid)
    return false
  }

  clear () { this.until.clear() }
}

module.exports = { LocalLocks, Tombstones, timeoutError }
