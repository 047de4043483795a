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
  const c = JSON.stringify(cookie)
  if (c === undefined) return JSON.stringify(sess)
  return sans === '{}' ? '{"cookie":' + c + '}' : '{"cookie":' + c + ',' + sans.slice(1)
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

  const storeImplementsTouch = typeof store.touch === 'function'
  let storeReady = true
  store.on('disconnect', function ondisconnect () { storeReady = false })
  store.on('connect', function onconnect () { storeReady = true })

  return function session (req, res, next) {
    if (req.session) { next(); return }
    // handle the request as if there were no session while the store is disconnected
    if (!storeReady) { next(); return }

    const originalPath = parseUrl.original(req).pathname || '/'
    const resolvedCookieOptions = typeof cookieOptions === 'function' ? cookieOptions(req) : cookieOptions
    if (originalPath.indexOf(resolvedCookieOptions.path || '/') !== 0) { next(); return }

    let keys = keyring
    if (keys === undefined) {
      if (!req.secret) { next(new Error('secret option required for sessions')); return }
      if (req.secret !== lastReqSecret) { lastReqKeyring = new Keyring(req.secret); lastReqSecret = req.secret }
      keys = lastReqKeyring
    }

    // per-request state: express-session's originalHash/savedHash are JSON strings here
    let originalStr
    let originalId
    let savedStr
    let touched = false
    let wrapped = null // sessions whose explicit save() is followed (express-session's wrapmethods)
    let ending = null // the session's cookie-less JSON while res.end decides (one serialization)

    function current (sess) {
      if (ending !== null && ending.sess === sess) return ending.str
      const str = stringifySansCookie(sess)
      if (ending !== null) { ending.sess = sess; ending.str = str }
      return str
    }

    const state = {
      follows (sess) { return wrapped !== null && wrapped.includes(sess) },
      follow (sess) { if (wrapped === null) wrapped = [sess]; else if (!wrapped.includes(sess)) wrapped.push(sess) },
      // called by Session#save: remembers what was saved, and hands back the JSON to store
      saving (sess) {
        if (wrapped === null || !wrapped.includes(sess)) return undefined
        const str = current(sess)
        savedStr = str
        return stringifyWithCookie(sess, str)
      }
    }
    req[kState] = state

    req.sessionStore = store
    const cookieId = req.sessionID = getcookie(req, name, keys)

    onHeaders(res, function () {
      if (!req.session) return
      if (!shouldSetCookie(req)) return
      // only send secure cookies via https
      if (req.session.cookie.secure && !issecure(req, trustProxy)) return
      if (!touched) {
        req.session.touch()
        touched = true
      }
      try {
        setcookie(res, name, req.sessionID, keys, req.session.cookie.data)
      } catch (err) {
        defer(next, err)
      }
    })

    // proxy end() to commit the session
    const _end = res.end
    let ended = false
    res.end = function end (chunk, encoding) {
      if (ended) return false
      ended = true
      const args = arguments // all of them: Node's end(chunk, encoding, callback) callback too

      // The response is held until the store has the session, so a client never sees it
      // complete before the save (express-session's guarantee). express-session writes all
      // but the last byte first; here the headers are fixed at the same moment (writeHead,
      // Set-Cookie decided) and the whole response goes out in one write after the save.
      let ret
      let sync = true

      function writeend () {
        const r = _end.apply(res, args)
        if (sync) {
          ret = r
          sync = false
        }
      }

      function writetop () {
        if (!sync) return ret
        if (!res._header) res._implicitHeader()
        sync = false
        ret = true // express-session returns write()'s result here; the data is not written yet
        return ret
      }

      ending = { sess: null, str: '' }
      try {
        if (shouldDestroy(req)) {
          store.destroy(req.sessionID, function ondestroy (err) {
            if (err) defer(next, err)
            writeend()
          })
          return writetop()
        }

        // no session to save
        if (!req.session) return _end.apply(res, args)

        if (!touched) {
          req.session.touch()
          touched = true
        }

        if (shouldSave(req)) {
          req.session.save(function onsave (err) {
            if (err) defer(next, err)
            writeend()
          })
          return writetop()
        } else if (storeImplementsTouch && shouldTouch(req)) {
          store.touch(req.sessionID, req.session, function ontouch (err) {
            if (err) defer(next, err)
            writeend()
          })
          return writetop()
        }

        return _end.apply(res, args)
      } finally {
        ending = null
      }
    }

    function generate () {
      store.generate(req)
      originalId = req.sessionID
      originalStr = stringifySansCookie(req.session)
      state.follow(req.session)
    }

    function inflate (sess) {
      createSession(store, req, sess)
      originalId = req.sessionID
      originalStr = stringifySansCookie(sess)
      if (!resaveSession) savedStr = originalStr
      state.follow(req.session)
    }

    function isModified (sess) {
      return originalId !== sess.id || originalStr !== current(sess)
    }

    function isSaved (sess) {
      return originalId === sess.id && savedStr === current(sess)
    }

    function shouldDestroy (req) {
      return req.sessionID && unsetDestroy && req.session == null
    }

    function shouldSave (req) {
      // cannot set cookie without a session ID
      if (typeof req.sessionID !== 'string') return false
      return !saveUninitializedSession && savedStr === undefined && cookieId !== req.sessionID
        ? isModified(req.session)
        : !isSaved(req.session)
    }

    function shouldTouch (req) {
      if (typeof req.sessionID !== 'string') return false
      return cookieId === req.sessionID && !shouldSave(req)
    }

    function shouldSetCookie (req) {
      if (typeof req.sessionID !== 'string') return false
      return cookieId !== req.sessionID
        ? saveUninitializedSession || isModified(req.session)
        : rollingSessions || (req.session.cookie.expires != null && isModified(req.session))
    }

    // generate a session if the browser doesn't send a sessionID
    if (!req.sessionID) {
      generate()
      next()
      return
    }

    storeGet(store, req.sessionID, function (err, sess) {
      if (err && err.code !== 'ENOENT') {
        next(err)
        return
      }
      try {
        if (err || !sess) generate()
        else inflate(sess)
      } catch (e) {
        next(e)
        return
      }
      next()
    })
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
