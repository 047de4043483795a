'use strict'
// The websocket side of createSessions(): a socket knows the verified session id of its
// upgrade request; each RPC gets a request whose `use('session')` loads `req.session`
// fresh from the store (SocketStream's request middleware), with express-session's
// Session semantics plus Promises.
const { Session, Cookie, storeGet } = require('../session/session')
const { settle, expiresAt, codedError } = require('../util')

// A store call with a node-style callback as a Promise (a synchronous throw rejects).
function call (store, method, ...args) {
  return new Promise((resolve, reject) => {
    store[method](...args, (err, value) => (err ? reject(err) : resolve(value)))
  })
}

// As the Session methods of session(): with a callback, returns the session (chaining);
// without, a Promise nobody has to await (no unhandled rejection).
function run (self, fn, promise) {
  if (typeof fn === 'function') {
    settle(promise, fn)
    return self
  }
  promise.catch(() => {})
  return promise
}

// A session read from the store (as JSON when the store offers it: one parse), or
// undefined when it is missing or past its expiry (a store should not return an expired
// session; this does not rely on it).
async function fetch (store, sid) {
  const data = await new Promise((resolve, reject) => {
    storeGet(store, sid, (err, value) => (err ? reject(err) : resolve(value)))
  })
  if (data == null || typeof data !== 'object') return undefined
  const exp = expiresAt(data)
  if (exp !== undefined && exp <= Date.now()) return undefined
  return data
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
  }

  save (cb) {
    const store = this.req.sessionStore
    const p = typeof store.setJSON === 'function'
      ? call(store, 'setJSON', this.id, JSON.stringify(this), this)
      : call(store, 'set', this.id, this)
    return run(this, cb, p.then(() => this))
  }

  // Reloads in place: `req.session` stays this same object, now holding the stored data.
  reload (cb) {
    const p = fetch(this.req.sessionStore, this.id).then((data) => {
      if (!data) throw new Error('failed to load session')
      for (const key of Object.keys(this)) delete this[key]
      fill(this, data)
      this.req.session = this
      return this
    })
    return run(this, cb, p)
  }

  destroy (cb) {
    this.req.session = undefined
    return run(this, cb, call(this.req.sessionStore, 'destroy', this.id).then(() => undefined))
  }

  // express-session's touch() only resets the maxAge, because the end of the HTTP response
  // then tells the store. An RPC has no response end, so this also calls store.touch().
  touch (cb) {
    this.resetMaxAge()
    const store = this.req.sessionStore
    const p = typeof store.touch === 'function' ? call(store, 'touch', this.id, this) : call(store, 'set', this.id, this)
    return run(this, cb, p.then(() => this))
  }

  regenerate (options, cb) {
    if (typeof options === 'function') cb = options
    const err = codedError('ERR_SESSION_REGENERATE',
      'a session cannot be regenerated over a websocket (the browser cookie can only change over HTTP): regenerate it in an HTTP route')
    return run(this, cb, Promise.reject(err))
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
  use (name, cb) {
    if (name !== 'session') {
      throw new TypeError(`req.use(): unknown request middleware ${JSON.stringify(name)}; the one available is 'session'`)
    }
    const n = ++this.#loads
    this.#session = NOT_LOADED
    const p = this.#socket.fetch().then(
      (data) => {
        const session = new RpcSession(this, data)
        if (n === this.#loads) this.#session = session
        return session
      },
      (err) => {
        if (n === this.#loads) this.#session = undefined
        throw err
      })
    p.catch(() => {})
    return settle(p, cb)
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

  request () { return new RpcRequest(this) }

  // The stored session data of this socket (rejects as use('session') does).
  async fetch () {
    if (this.error) throw this.error
    if (!this.sessionId) {
      throw codedError('ERR_SESSION_ANONYMOUS',
        'this websocket has no session: its upgrade request carried no valid signed session cookie. ' +
        'Load a page over HTTP (sessions.http()) first, and open the websocket from the same site so the browser sends the cookie')
    }
    const data = await fetch(this.store, this.sessionId)
    if (!data) {
      throw codedError('ERR_SESSION_NOT_FOUND',
        'the session of this websocket is gone (it expired or was destroyed); load a page over HTTP and reconnect to get a new one')
    }
    return data
  }

  // The session as a Session, or undefined when the socket is anonymous or it is gone.
  load () {
    return this.fetch().then((data) => {
      const holder = { sessionID: this.sessionId, sessionStore: this.store, session: undefined }
      holder.session = new RpcSession(holder, data)
      return holder.session
    }, (err) => {
      if (err.code === 'ERR_SESSION_ANONYMOUS' || err.code === 'ERR_SESSION_NOT_FOUND') return undefined
      throw err
    })
  }
}

module.exports = { SessionSocket, RpcRequest, RpcSession, fetch }
