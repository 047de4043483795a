'use strict'
// `Session`: express-session's Session (same constructor, same `touch`/`resetMaxAge`, an
// `instanceof` of it), whose `save`, `reload`, `destroy` and `regenerate` also return a
// Promise when called without a callback (with one, they return the session for chaining,
// as express-session does). A rejected Promise nobody awaits is not an unhandled rejection:
// `req.session.save()` fire-and-forget stays as harmless as it is with express-session.
//
// The middleware that made a session follows its explicit saves (express-session wraps
// `save`/`reload` on each session it generates or loads); here the session finds that
// middleware's per-request state through `req[kState]`, and the prototype stays unchanged.
const ExpressSession = require('express-session').Session
const ExpressStore = require('express-session').Store
const Cookie = require('express-session').Cookie

const kState = Symbol('native-session.request')
const { kLoaded, kLock, mergeSave, merging } = require('../merge')
const noop = () => {}

// Runs `op(callback)`: with a user callback, returns `self`; without, a Promise.
function run (self, fn, op, result) {
  if (typeof fn === 'function') {
    op(fn)
    return self
  }
  const p = new Promise((resolve, reject) => {
    op((err) => err ? reject(err) : resolve(result ? result() : undefined))
  })
  p.catch(noop)
  return p
}

// store.get, or the store's raw JSON when it offers it (our stores): the middleware
// parses once instead of the store parsing and the middleware re-serializing.
function storeGet (store, sid, cb) {
  if (typeof store.getJSON === 'function') {
    store.getJSON(sid, (err, json) => {
      if (err) return cb(err)
      if (json == null) return cb(null, json)
      let sess
      try {
        sess = JSON.parse(json)
      } catch (e) {
        return cb(e)
      }
      if (sess !== null && typeof sess === 'object') sess[kLoaded] = json // what a merging save diffs against
      cb(null, sess)
    })
  } else {
    store.get(sid, cb)
  }
}

// Store.prototype.createSession, making our Session (unless the store has its own).
function createSession (store, req, sess) {
  if (typeof store.createSession === 'function' && store.createSession !== ExpressStore.prototype.createSession &&
      store.createSession.mergeAware !== true) {
    return store.createSession(req, sess)
  }
  const expires = sess.cookie.expires
  const originalMaxAge = sess.cookie.originalMaxAge
  sess.cookie = new Cookie(sess.cookie)
  if (typeof expires === 'string') sess.cookie.expires = new Date(expires)
  sess.cookie.originalMaxAge = originalMaxAge
  req.session = new Session(req, sess)
  if (sess[kLoaded] !== undefined) req.session[kLoaded] = sess[kLoaded]
  if (sess[kLock] !== undefined) req.session[kLock] = sess[kLock]
  return req.session
}

class Session extends ExpressSession {
  save (fn) {
    const req = this.req
    const state = req[kState]
    const json = state !== undefined ? state.saving(this) : undefined
    const store = req.sessionStore
    // the automatic save at the end of a response skips a destroyed session quietly
    const auto = state !== undefined && state.ending === true
    return run(this, fn, (cb) => {
      if (merging(store, req)) {
        mergeSave(store, this, json !== undefined ? json : JSON.stringify(this),
          auto ? (err) => cb(err && err.code === 'ERR_SESSION_GONE' ? null : err) : cb)
      } else if (typeof store.setJSON === 'function') {
        store.setJSON(this.id, json !== undefined ? json : JSON.stringify(this), this, cb)
      } else {
        store.set(this.id, this, cb)
      }
    }, () => this)
  }

  reload (fn) {
    const req = this.req
    const store = req.sessionStore
    const state = req[kState]
    return run(this, fn, (cb) => {
      storeGet(store, this.id, (err, sess) => {
        if (err) return cb(err)
        if (!sess) return cb(new Error('failed to load session'))
        createSession(store, req, sess)
        if (this[kLock] !== undefined) req.session[kLock] = this[kLock]
        if (state !== undefined && req.session !== this && state.follows(this)) state.follow(req.session)
        cb()
      })
    }, () => req.session)
  }

  destroy (fn) {
    const req = this.req
    delete req.session
    return run(this, fn, (cb) => req.sessionStore.destroy(this.id, cb))
  }

  // regenerate([options], [callback]): a new session with a new id, the old one destroyed.
  // `{ keep: true }` carries the old session's data (all but `cookie`) into the new one,
  // the usual fix for session fixation on login (express-session issue #425).
  regenerate (options, fn) {
    if (typeof options === 'function') { fn = options; options = undefined }
    const req = this.req
    const keep = options != null && options.keep === true
    const old = this
    return run(this, fn, (cb) => {
      req.sessionStore.regenerate(req, (err) => {
        if (keep && req.session && req.session !== old) {
          for (const key of Object.keys(old)) {
            if (key !== 'cookie' && !(key in req.session)) req.session[key] = old[key]
          }
        }
        cb(err)
      })
    }, () => req.session)
  }
}

module.exports = { Session, Cookie, kState, storeGet, createSession }
