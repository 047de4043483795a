'use strict'
// The websocket side of createSessions(): a socket knows the verified session id of its
// upgrade request; each RPC gets a request whose `use('session')` loads `req.session`
// fresh from the store (SocketStream's request middleware), with express-session's
// Session semantics plus Promises.
const { Session, Cookie, storeGet } = require('../session/session')
const { stringifySansCookie, stringifyWithCookie } = require('../session/json')
// JSON.stringify(session), the cookie built field by field (as session() does)
const json = (session) => stringifyWithCookie(session, stringifySansCookie(session))
const { expiresAt, codedError } = require('../util')
const { kLoaded, kStored, kLock, kNoMerge, mergeSave, merging } = require('../merge')

const noop = () => {}

// Runs `op(done)` (done: a node-style callback) as the Session methods of session() do:
// with a user callback, calls it on a later tick and returns `self` (chaining); without,
// returns a Promise nobody has to await (no unhandled rejection) of `result()`.
function run (self, fn, op, result) {
  if (typeof fn === 'function') {
    const done = (err) => (err ? process.nextTick(fn, err) : process.nextTick(fn, null))
    try { op(done) } catch (err) { done(err) }
    return self
  }
  const p = new Promise((resolve, reject) => {
    op((err) => (err ? reject(err) : resolve(result ? result() : undefined)))
  })
  p.catch(noop)
  return p
}

// The stored session of `sid` (as JSON when the store offers it: one parse), or undefined
// when it is missing or past its expiry (a store should not return an expired session;
// this does not rely on it). A synchronous throw of the store goes to `cb` too.
function fetch (store, sid, cb) {
  try {
    storeGet(store, sid, (err, data) => {
      if (err) return cb(err)
      if (data == null || typeof data !== 'object') return cb(null, undefined)
      const exp = expiresAt(data)
      cb(null, exp !== undefined && exp <= Date.now() ? undefined : data)
    })
  } catch (err) {
    cb(err)
  }
}

// Copies stored data into `session` the way express-session's Store#createSession does
// (cookie as a Cookie, expires as a Date, originalMaxAge kept).
function fill (session, data) {
  for (const prop in data) {
    if (!(prop in session)) session[prop] = data[prop]
  }
  const c = data.cookie && typeof data.cookie === 'object' ? data.cookie : {}
  session.cookie = new Cookie(c)
  if (typeof c.expires === 'string') session.cookie.expires = new Date(c.expires)
  session.cookie.originalMaxAge = c.originalMaxAge === undefined ? session.cookie.originalMaxAge : c.originalMaxAge
}

// `req` is whatever the session belongs to: it has `sessionID`, `sessionStore` and a
// settable `session` (an RpcRequest, or a small holder for sessions.load()).
class RpcSession extends Session {
  constructor (req, data) {
    super(req, null)
    fill(this, data)
    if (data[kLoaded] !== undefined) this[kLoaded] = data[kLoaded]
    if (data[kLock] !== undefined) this[kLock] = data[kLock]
  }

  // Merges (README "Concurrent writes") on our stores: rejects with ERR_SESSION_GONE when
  // the session was destroyed since it was loaded. Releases the session's lock, if held.
  save (fn) {
    const store = this.req.sessionStore
    return run(this, fn, (done) => {
      if (merging(store, this.req)) mergeSave(store, this, json(this), (err) => this.#unlock(() => done(err)))
      else if (typeof store.setJSON === 'function') store.setJSON(this.id, json(this), this, (err) => this.#unlock(() => done(err)))
      else store.set(this.id, this, (err) => this.#unlock(() => done(err)))
    }, () => this)
  }

  // With `lock`: gives the session's lock back without saving (a handler that only reads).
  release (fn) {
    return run(this, fn, (done) => this.#unlock(done))
  }

  #unlock (cb) {
    const token = this[kLock]
    if (token === undefined) return cb()
    this[kLock] = undefined
    this.req.sessionStore.unlockSession(this.id, token, () => cb())
  }

  // Reloads in place: `req.session` stays this same object, now holding the stored data.
  reload (fn) {
    return run(this, fn, (done) => fetch(this.req.sessionStore, this.id, (err, data) => {
      if (err) return done(err)
      if (!data) return done(new Error('failed to load session'))
      for (const key of Object.keys(this)) delete this[key]
      fill(this, data)
      this[kLoaded] = data[kLoaded]
      this[kStored] = undefined
      this.req.session = this
      done()
    }), () => this)
  }

  destroy (fn) {
    this.req.session = undefined
    return run(this, fn, (done) => this.req.sessionStore.destroy(this.id, (err) => this.#unlock(() => done(err))))
  }

  // express-session's touch() only resets the maxAge, because the end of the HTTP response
  // then tells the store. An RPC has no response end, so this also calls store.touch().
  touch (fn) {
    this.resetMaxAge()
    const store = this.req.sessionStore
    return run(this, fn, (done) => {
      if (typeof store.touch === 'function') store.touch(this.id, this, done)
      else store.set(this.id, this, done)
    }, () => this)
  }

  regenerate (options, fn) {
    if (typeof options === 'function') fn = options
    return run(this, fn, (done) => done(codedError('ERR_SESSION_REGENERATE',
      'a session cannot be regenerated over a websocket (the browser cookie can only change over HTTP): regenerate it in an HTTP route')))
  }
}

const NOT_LOADED = Symbol('loading')

// One RPC message: SocketStream's `req`. `req.session` is undefined until
// `req.use('session')` has loaded it; reading it while the load is in flight throws an
// error that says to await it.
class RpcRequest {
  #socket
  #session = undefined
  #loads = 0

  constructor (socket) {
    this.#socket = socket
    this.sessionId = socket.sessionId
    const o = socket.options
    if (o && o.merge === false) this[kNoMerge] = true
  }

  get sessionID () { return this.sessionId }
  get sessionStore () { return this.#socket.store }

  get session () {
    if (this.#session === NOT_LOADED) {
      throw codedError('ERR_SESSION_NOT_LOADED',
        "req.session is still loading: `await req.use('session')` (or pass it a callback) before using req.session")
    }
    return this.#session
  }

  set session (value) { this.#session = value }

  // Loads req.session fresh from the store. Resolves to the session; rejects (code
  // ERR_SESSION_ANONYMOUS or ERR_SESSION_NOT_FOUND) when this socket has none, and then
  // req.session stays undefined. Not awaiting it is no unhandled rejection.
  use (name, fn) {
    if (name !== 'session') {
      throw new TypeError(`req.use(): unknown request middleware ${JSON.stringify(name)}; the one available is 'session'`)
    }
    const n = ++this.#loads
    this.#session = NOT_LOADED
    const load = (cb) => this.#socket.read(this.#socket.lockFor(), (err, data) => {
      const session = err ? undefined : new RpcSession(this, data)
      if (n === this.#loads) this.#session = session
      cb(err, session)
    })
    if (typeof fn === 'function') {
      return new Promise((resolve) => load((err, session) => {
        process.nextTick(fn, err || null, session)
        resolve(session)
      }))
    }
    const p = new Promise((resolve, reject) => load((err, session) => (err ? reject(err) : resolve(session))))
    p.catch(noop)
    return p
  }
}

// What sessions.socket(upgradeReq) returns.
class SessionSocket {
  #ctx

  constructor (ctx, sessionId, error) {
    this.#ctx = ctx
    this.sessionId = sessionId
    if (error) Object.defineProperty(this, 'error', { value: error })
  }

  get store () { return this.#ctx.store }
  get options () { return this.#ctx.options }

  // The lock settings of an RPC's load: undefined, or { lease, wait } with `lock: true`.
  lockFor () {
    const o = this.#ctx.options
    if (!o || o.lock !== true) return undefined
    return { lease: o.lockLease || 10000, wait: o.lockWait || 10000 }
  }

  request () { return new RpcRequest(this) }

  // cb(err, data): the stored session data of this socket, or an error saying why there
  // is none (ERR_SESSION_ANONYMOUS, ERR_SESSION_NOT_FOUND, or a configuration error).
  read (lock, cb) {
    if (typeof lock === 'function') { cb = lock; lock = undefined }
    if (this.error) return process.nextTick(cb, this.error)
    if (!this.sessionId) {
      return process.nextTick(cb, codedError('ERR_SESSION_ANONYMOUS',
        'this websocket has no session: its upgrade request carried no valid signed session cookie. ' +
        'Load a page over HTTP (sessions.http()) first, and open the websocket from the same site so the browser sends the cookie'))
    }
    if (lock !== undefined && typeof this.store.lockSession === 'function') {
      const store = this.store
      const sid = this.sessionId
      return store.lockSession(sid, lock.lease, lock.wait, (err, token) => {
        if (err) return cb(err)
        this.read((err, data) => {
          if (err) store.unlockSession(sid, token, noop)
          else data[kLock] = token
          cb(err, data)
        })
      })
    }
    // our stores call back on the check phase (MemoryStore defers with setImmediate, as
    // express-session's does; RedisStore from its batched drain): a burst of RPCs from many
    // sockets is read before the replies go out, with no extra deferral here
    fetch(this.store, this.sessionId, (err, data) => {
      if (err) return cb(err)
      if (!data) {
        return cb(codedError('ERR_SESSION_NOT_FOUND',
          'the session of this websocket is gone (it expired or was destroyed); load a page over HTTP and reconnect to get a new one'))
      }
      cb(null, data)
    })
  }

  // The session as a Session, or undefined when the socket is anonymous or it is gone.
  load () {
    return new Promise((resolve, reject) => this.read((err, data) => {
      if (!err) {
        const holder = { sessionID: this.sessionId, sessionStore: this.store, session: undefined }
        if (this.options && this.options.merge === false) holder[kNoMerge] = true
        holder.session = new RpcSession(holder, data)
        return resolve(holder.session)
      }
      if (err.code === 'ERR_SESSION_ANONYMOUS' || err.code === 'ERR_SESSION_NOT_FOUND') return resolve(undefined)
      reject(err)
    }))
  }
}

module.exports = { SessionSocket, RpcRequest, RpcSession }
