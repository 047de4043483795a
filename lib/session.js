'use strict'
// `session(options)`: a drop-in for `require('express-session')(options)` (API.md §4).
// Same options, rules and store contract as express-session 1.19 (its index.js is the
// model, followed rule by rule below); what changes is the per-request work:
// - the session id is read from the Cookie header in one native call (Keyring.sessionId);
// - change detection keeps the session's JSON (without its cookie, as express-session's
//   hash excludes it) taken when the session was loaded, and compares it with ONE
//   serialization at the end of the request, instead of JSON + SHA-1 three or four times;
// - the Set-Cookie value is signed and serialized natively;
// - stores that offer `getJSON`/`setJSON` (ours) exchange the JSON string directly.
const crypto = require('node:crypto')
const { createRequire } = require('node:module')
const expressSession = require('express-session')
const { Keyring } = require('./keyring')
const { serialize } = require('./cookie')
const { Session, Cookie, kState, storeGet, createSession } = require('./session/session')
const { stringifySansCookie, stringifyWithCookie } = require('./session/json')
const { kNoMerge, kLock } = require('./merge')
const { normalize } = require('./util')

// express-session's own small dependencies, resolved from where it is installed.
const esRequire = createRequire(require.resolve('express-session'))
const onHeaders = esRequire('on-headers')
const parseUrl = esRequire('parseurl')
const deprecate = esRequire('depd')('native-session')

const Store = expressSession.Store
const MemoryStore = (() => {
  try {
    const m = require('./memory-store').MemoryStore
    if (typeof m === 'function') return m
  } catch {}
  return expressSession.MemoryStore
})()

const defer = setImmediate

// uid-safe's `uid(24)`: 24 random bytes, base64url without padding (32 characters).
const POOL_IDS = 128
let pool = Buffer.alloc(0)
let poolAt = 0
function generateSessionId () {
  if (poolAt >= pool.length) {
    pool = crypto.randomBytes(24 * POOL_IDS)
    poolAt = 0
  }
  const id = pool.toString('base64url', poolAt, poolAt + 24)
  pool.fill(0, poolAt, poolAt + 24)
  poolAt += 24
  return id
}

function session (options) {
  const opts = options || {}
  const cookieOptions = opts.cookie || {}
  const generateId = opts.genid || generateSessionId
  const name = opts.name || opts.key || 'connect.sid'
  const store = opts.store || new MemoryStore()
  const trustProxy = opts.proxy
  let resaveSession = opts.resave
  const rollingSessions = Boolean(opts.rolling)
  let saveUninitializedSession = opts.saveUninitialized
  let secret = opts.secret

  if (typeof generateId !== 'function') throw new TypeError('genid option must be a function')
  if (resaveSession === undefined) {
    deprecate('undefined resave option; provide resave option')
    resaveSession = true
  }
  if (saveUninitializedSession === undefined) {
    deprecate('undefined saveUninitialized option; provide saveUninitialized option')
    saveUninitializedSession = true
  }
  if (opts.unset && opts.unset !== 'destroy' && opts.unset !== 'keep') {
    throw new TypeError('unset option must be "destroy" or "keep"')
  }
  const unsetDestroy = opts.unset === 'destroy'
  if (Array.isArray(secret) && secret.length === 0) {
    throw new TypeError('secret option array must contain one or more strings')
  }
  if (secret && !Array.isArray(secret)) secret = [secret]
  if (!secret) deprecate('req.secret; provide secret option')
  const keyring = secret ? new Keyring(secret) : undefined
  let lastReqSecret, lastReqKeyring // cookie-parser's req.secret, when there is no secret option

  if (process.env.NODE_ENV === 'production' && store instanceof expressSession.MemoryStore) {
    console.warn('Warning: connect.session() MemoryStore is not\n' +
      'designed for a production environment, as it will leak\n' +
      'memory, and will not scale past a single process.')
  }

  // generates the new session (express-session sets it on the store: Store#regenerate uses it)
  store.generate = function (req) {
    req.sessionID = generateId(req)
    req.session = new Session(req)
    req.session.cookie = new Cookie(typeof cookieOptions === 'function' ? cookieOptions(req) : cookieOptions)
    const isSecure = issecure(req, trustProxy)
    if (cookieOptions.secure === 'auto') req.session.cookie.secure = isSecure
    if (cookieOptions.sameSite === 'auto') req.session.cookie.sameSite = isSecure ? 'none' : 'lax'
  }

  // concurrent writes (README "Concurrent writes"): merge unless `merge: false`; `lock`:
  // true, or a function of the request saying whether to lock this one
  const lock = opts.lock || false
  if (lock !== false && lock !== true && typeof lock !== 'function') throw new TypeError('lock option must be a boolean or a function (req) => boolean')
  if (lock && typeof store.lockSession !== 'function') {
    throw new TypeError('lock option needs a store with lockSession (native-session\'s MemoryStore or RedisStore)')
  }
  const lockLease = lockMs(opts.lockLease, 'lockLease')
  const lockWait = lockMs(opts.lockWait, 'lockWait')
  const noMerge = opts.merge === false
  if (opts.normalize !== undefined && typeof opts.normalize !== 'boolean') throw new TypeError('normalize option must be a boolean')
  const normalizing = opts.normalize !== false

  const cfg = {
    store,
    trustProxy,
    resave: resaveSession,
    rolling: rollingSessions,
    saveUninitialized: saveUninitializedSession,
    unsetDestroy,
    storeImplementsTouch: typeof store.touch === 'function',
    name
  }
  let storeReady = true
  store.on('disconnect', function ondisconnect () { storeReady = false })
  store.on('connect', function onconnect () { storeReady = true })

  return function session (req, res, next) {
    if (req.session) { next(); return }
    // handle the request as if there were no session while the store is disconnected
    if (!storeReady) { next(); return }

    // pathname does not match the cookie path (every URL that starts with '/' matches '/')
    const resolvedCookieOptions = typeof cookieOptions === 'function' ? cookieOptions(req) : cookieOptions
    const cookiePath = resolvedCookieOptions.path || '/'
    const url = req.originalUrl || req.url
    if ((cookiePath !== '/' || typeof url !== 'string' || url.charCodeAt(0) !== 47) &&
        (parseUrl.original(req).pathname || '/').indexOf(cookiePath) !== 0) { next(); return }

    let keys = keyring
    if (keys === undefined) {
      if (!req.secret) { next(new Error('secret option required for sessions')); return }
      if (req.secret !== lastReqSecret) { lastReqKeyring = new Keyring(req.secret); lastReqSecret = req.secret }
      keys = lastReqKeyring
    }

    if (normalizing) {
      normalize(req)
      normalize(res)
    }
    const state = new RequestSession(cfg, req, res, next, keys)
    req[kState] = state
    req.sessionStore = store
    state.cookieId = req.sessionID = getcookie(req, name, keys)
    onWriteHead(res, state)
    res.end = function end (chunk, encoding) { return state.end(arguments) }

    // generate a session if the browser doesn't send a sessionID
    if (!req.sessionID) {
      state.generate()
      next()
      return
    }
    if (noMerge) req[kNoMerge] = true
    if (lock && (lock === true || lock(req))) {
      lockAndGet(store, req, res, next, state, lockLease, lockWait)
      return
    }
    storeGet(store, req.sessionID, function (err, sess) { state.loaded(err, sess) })
  }
}

// on-headers (express-session's) for the usual writeHead(statusCode[, reason]): the
// Set-Cookie decision runs once, after the status is set and before the headers go out,
// and a status it changes is passed along, without copying `arguments` on every call.
// writeHead with headers (or no status) goes through on-headers itself.
function onWriteHead (res, state) {
  const prev = res.writeHead
  let fired = false
  res.writeHead = function writeHead (statusCode, reason) {
    const n = arguments.length
    if (n === 0 || n > 2 || (n === 2 && typeof reason !== 'string')) {
      const holder = { writeHead: prev }
      onHeaders(holder, function () {
        if (!fired) { fired = true; state.headers() }
      })
      return holder.writeHead.apply(this, arguments)
    }
    this.statusCode = statusCode
    if (!fired) {
      fired = true
      state.headers()
      if (typeof statusCode === 'number' && this.statusCode !== statusCode) return prev.call(this, this.statusCode)
    }
    return n === 1 ? prev.call(this, statusCode) : prev.call(this, statusCode, reason)
  }
}

function lockMs (v, name) {
  if (v == null) return 10000
  if (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v)) throw new TypeError(`${name} option must be a positive number of milliseconds`)
  return v
}

// `lock`: the session's lock first (released when the response is over), then the load;
// a loaded session carries the token, which the store checks when it saves (fencing).
function lockAndGet (store, req, res, next, state, lease, wait) {
  const sid = req.sessionID
  store.lockSession(sid, lease, wait, function (err, token) {
    if (err) { next(err); return }
    let released = false
    const release = () => { if (!released) { released = true; store.unlockSession(sid, token, noop) } }
    res.once('close', release)
    storeGet(store, sid, function (err, sess) {
      if (sess) sess[kLock] = token
      else release()
      state.loaded(err, sess)
    })
  })
}

function noop () {}

// One request's session bookkeeping: express-session's per-request closure state, with its
// originalHash/savedHash held as the cookie-less JSON strings themselves.
class RequestSession {
  constructor (cfg, req, res, next, keys) {
    this.cfg = cfg
    this.req = req
    this.res = res
    this.next = next
    this.keys = keys
    this.cookieId = undefined
    this.originalId = undefined
    this.originalStr = undefined
    this.savedStr = undefined
    this.touched = false
    this.wrapped = null // sessions whose explicit save() is followed (express-session's wrapmethods)
    // while res.end decides: the session's cookie-less JSON, computed once
    this.ending = false
    this.endingSess = null
    this.endingStr = ''
    // the proxied res.end
    this._end = res.end
    this.ended = false
    this.endArgs = null
    this.sync = true
    this.ret = undefined
  }

  current (sess) {
    if (!this.ending) return stringifySansCookie(sess)
    if (this.endingSess === sess) return this.endingStr
    const str = stringifySansCookie(sess)
    this.endingSess = sess
    this.endingStr = str
    return str
  }

  follows (sess) { return this.wrapped !== null && this.wrapped.includes(sess) }

  follow (sess) {
    if (this.wrapped === null) this.wrapped = [sess]
    else if (!this.wrapped.includes(sess)) this.wrapped.push(sess)
  }

  // called by Session#save: remembers what was saved, and hands back the JSON to store
  saving (sess) {
    if (!this.follows(sess)) return undefined
    const str = this.current(sess)
    this.savedStr = str
    return stringifyWithCookie(sess, str)
  }

  generate () {
    const req = this.req
    this.cfg.store.generate(req)
    this.originalId = req.sessionID
    this.originalStr = stringifySansCookie(req.session)
    this.follow(req.session)
  }

  inflate (sess) {
    const req = this.req
    createSession(this.cfg.store, req, sess)
    this.originalId = req.sessionID
    this.originalStr = stringifySansCookie(sess)
    if (!this.cfg.resave) this.savedStr = this.originalStr
    this.follow(req.session)
  }

  // the store's answer to the first get
  loaded (err, sess) {
    if (err && err.code !== 'ENOENT') {
      this.next(err)
      return
    }
    try {
      if (err || !sess) this.generate()
      else this.inflate(sess)
    } catch (e) {
      this.next(e)
      return
    }
    this.next()
  }

  isModified (sess) {
    return this.originalId !== sess.id || this.originalStr !== this.current(sess)
  }

  isSaved (sess) {
    return this.originalId === sess.id && this.savedStr === this.current(sess)
  }

  shouldDestroy () {
    const req = this.req
    return req.sessionID && this.cfg.unsetDestroy && req.session == null
  }

  shouldSave () {
    const req = this.req
    // cannot set cookie without a session ID
    if (typeof req.sessionID !== 'string') return false
    return !this.cfg.saveUninitialized && this.savedStr === undefined && this.cookieId !== req.sessionID
      ? this.isModified(req.session)
      : !this.isSaved(req.session)
  }

  shouldTouch () {
    const req = this.req
    if (typeof req.sessionID !== 'string') return false
    return this.cookieId === req.sessionID && !this.shouldSave()
  }

  shouldSetCookie () {
    const req = this.req
    if (typeof req.sessionID !== 'string') return false
    return this.cookieId !== req.sessionID
      ? this.cfg.saveUninitialized || this.isModified(req.session)
      : this.cfg.rolling || (req.session.cookie.expires != null && this.isModified(req.session))
  }

  // on-headers listener: the Set-Cookie decision
  headers () {
    const req = this.req
    if (!req.session) return
    if (!this.shouldSetCookie()) return
    // only send secure cookies via https
    if (req.session.cookie.secure && !issecure(req, this.cfg.trustProxy)) return
    if (!this.touched) {
      req.session.touch()
      this.touched = true
    }
    try {
      setcookie(this.res, this.cfg.name, req.sessionID, this.keys, req.session.cookie.data)
    } catch (err) {
      defer(this.next, err)
    }
  }

  // The response is held until the store has the session, so a client never sees it
  // complete before the save (express-session's guarantee). express-session writes all
  // but the last byte first; here the headers are fixed at the same moment (writeHead,
  // Set-Cookie decided) and the whole response goes out in one write after the save.
  end (args) {
    if (this.ended) return false
    this.ended = true
    this.endArgs = args // all of them: Node's end(chunk, encoding, callback) callback too
    const req = this.req
    const store = this.cfg.store
    this.ending = true
    try {
      if (this.shouldDestroy()) {
        store.destroy(req.sessionID, (err) => this.stored(err))
        return this.writetop()
      }
      // no session to save
      if (!req.session) return this.finish(args)
      if (!this.touched) {
        req.session.touch()
        this.touched = true
      }
      if (this.shouldSave()) {
        req.session.save((err) => this.stored(err))
        return this.writetop()
      } else if (this.cfg.storeImplementsTouch && this.shouldTouch()) {
        store.touch(req.sessionID, req.session, (err) => this.stored(err))
        return this.writetop()
      }
      return this.finish(args)
    } finally {
      this.ending = false
      this.endingSess = null
    }
  }

  stored (err) {
    if (this.res === null) return // a store that called back twice
    if (err) defer(this.next, err)
    const r = this.finish(this.endArgs)
    if (this.sync) {
      this.ret = r
      this.sync = false
    }
  }

  // Ends the response, then drops this request's references. A request that was in flight
  // across two young-generation GCs is promoted to the old one with everything it points to,
  // and until the next full GC it keeps alive whatever its fields point to: measured over HTTP,
  // 17 KB promoted per request without this and 12 KB with it (CPU per request 139 -> 117 µs).
  finish (args) {
    const r = this._end.apply(this.res, args)
    this.req = this.res = this.next = this._end = this.endArgs = this.wrapped = null
    this.originalStr = this.savedStr = undefined
    return r
  }

  writetop () {
    if (!this.sync) return this.ret
    const res = this.res
    if (!res._header) res._implicitHeader()
    this.sync = false
    this.ret = true // express-session returns write()'s result here; the data is not written yet
    return this.ret
  }
}

// express-session's getcookie: the header read natively, then the cookie-parser fallbacks
function getcookie (req, name, keys) {
  const header = req.headers.cookie
  let val = header ? keys.sessionId(header, name) : undefined

  // back-compat read from cookieParser() signedCookies data
  if (!val && req.signedCookies) {
    val = req.signedCookies[name]
    if (val) deprecate('cookie should be available in req.headers.cookie')
  }

  // back-compat read from cookieParser() cookies data
  if (!val && req.cookies) {
    const raw = req.cookies[name]
    if (raw && raw.substr(0, 2) === 's:') {
      val = keys.unsign(raw.slice(2))
      if (val) deprecate('cookie should be available in req.headers.cookie')
      if (val === false) val = undefined
    }
  }
  return val
}

function issecure (req, trustProxy) {
  // socket is https server
  if (req.connection && req.connection.encrypted) return true
  // do not trust proxy
  if (trustProxy === false) return false
  // no explicit trust; try req.secure from express
  if (trustProxy !== true) return req.secure === true
  // read the proto from x-forwarded-proto header
  const header = req.headers['x-forwarded-proto'] || ''
  const index = header.indexOf(',')
  const proto = index !== -1
    ? header.substr(0, index).toLowerCase().trim()
    : header.toLowerCase().trim()
  return proto === 'https'
}

function setcookie (res, name, val, keys, options) {
  const data = serialize(name, 's:' + keys.sign(val), options)
  const prev = res.getHeader('Set-Cookie') || []
  const header = Array.isArray(prev) ? prev.concat(data) : [prev, data]
  res.setHeader('Set-Cookie', header)
}

session.Store = Store
session.Cookie = Cookie
session.Session = Session
session.MemoryStore = MemoryStore

module.exports = { session }
