'use strict'
// createSessions(): SocketStream's session layer (API.md §3). One set of options and one
// store shared by the HTTP middleware and the websocket side, so a browser has one
// session for both. Options and the store may change until the first request; then they
// are fixed.
const expressSession = require('express-session')
const { codedError } = require('./util')
const { SessionSocket } = require('./sessions/socket')

const { session } = require('./session')
const { Keyring } = require('./keyring')
const { MemoryStore } = require('./memory-store')
const { RedisStore } = require('./redis-store')

const DEFAULT_SECRET = 'SocketStream'
const THIRTY_DAYS = 30 * 24 * 60 * 60 * 1000

// express-session's cookie options, as flat keys of sessions.options.
const COOKIE_KEYS = ['maxAge', 'path', 'domain', 'httpOnly', 'secure', 'sameSite', 'partitioned', 'priority']
// express-session's other options.
const SESSION_KEYS = ['name', 'secret', 'rolling', 'resave', 'saveUninitialized', 'proxy', 'unset', 'genid',
  'merge', 'lock', 'lockLease', 'lockWait', 'normalize']
const KEYS = new Set([...SESSION_KEYS, ...COOKIE_KEYS])

const STORES = {
  memory: (opts) => new MemoryStore(opts),
  redis: (opts) => new RedisStore(opts)
}

function lockedError (what) {
  return codedError('ERR_SESSIONS_LOCKED',
    `${what} cannot change after the first request: set sessions.options and sessions.store before serving`)
}

function createSessions (initial) {
  if (initial != null && typeof initial !== 'object') throw new TypeError('createSessions(options): options must be an object')

  const state = { locked: false, error: undefined, store: undefined, ownStore: false, keyring: undefined, middleware: undefined }
  const values = {
    name: 'connect.sid',
    secret: DEFAULT_SECRET,
    maxAge: THIRTY_DAYS,
    resave: false,
    saveUninitialized: true
  }

  const options = new Proxy(values, {
    set (target, key, value) {
      if (state.locked) throw lockedError(`sessions.options.${String(key)}`)
      if (!KEYS.has(key)) {
        throw new TypeError(`sessions.options: unknown option ${JSON.stringify(String(key))}; known: ${[...KEYS].join(', ')}`)
      }
      target[key] = value
      return true
    },
    deleteProperty (target, key) {
      if (state.locked) throw lockedError(`sessions.options.${String(key)}`)
      delete target[key]
      return true
    },
    defineProperty () { throw new TypeError('sessions.options: assign options instead of defining properties') }
  })
  if (initial) Object.assign(options, initial)

  function currentStore () {
    if (!state.store) { state.store = STORES.memory(); state.ownStore = true }
    return state.store
  }

  const store = {
    use (which, opts) {
      if (state.locked) throw lockedError('sessions.store')
      let next
      if (typeof which === 'string') {
        if (!Object.hasOwn(STORES, which)) {
          throw new TypeError(`sessions.store.use(): unknown store ${JSON.stringify(which)}; use 'memory', 'redis' or a store instance`)
        }
        if (opts != null && typeof opts !== 'object') throw new TypeError('sessions.store.use(): options must be an object')
        next = STORES[which](opts || {})
      } else if (which && typeof which.get === 'function' && typeof which.set === 'function' && typeof which.destroy === 'function') {
        next = which
      } else {
        throw new TypeError("sessions.store.use(): expected 'memory', 'redis' or a store with get, set and destroy")
      }
      const old = state.ownStore ? state.store : undefined
      state.store = next
      state.ownStore = typeof which === 'string'
      if (old && old !== next && typeof old.close === 'function') old.close(() => {})
      return next
    },
    get: currentStore
  }

  // Fixes the options at the first request. A configuration error (including the default
  // secret under NODE_ENV=production) is kept and given to every request.
  function lock () {
    if (state.locked) return state.error
    state.locked = true
    try {
      const o = { ...values }
      const secrets = Array.isArray(o.secret) ? o.secret : [o.secret]
      if (process.env.NODE_ENV === 'production' && secrets.some((s) => String(s) === DEFAULT_SECRET)) {
        throw codedError('ERR_SESSIONS_DEFAULT_SECRET',
          `native-session: refusing sessions signed with the default secret '${DEFAULT_SECRET}' under NODE_ENV=production ` +
          '(anyone could forge its cookies). Set your own before the first request, e.g. ' +
          'sessions.options.secret = process.env.SESSION_SECRET, with a long random value such as the output of ' +
          "node -e \"console.log(require('crypto').randomBytes(32).toString('hex'))\"")
      }
      if (typeof o.name !== 'string' || o.name === '') throw new TypeError('sessions.options.name must be a non-empty string')
      if (o.maxAge != null && (typeof o.maxAge !== 'number' || !Number.isFinite(o.maxAge))) {
        throw new TypeError('sessions.options.maxAge must be a number of milliseconds (or null for a browser-session cookie)')
      }
      const s = currentStore()
      if (process.env.NODE_ENV === 'production' && (s instanceof MemoryStore || s instanceof expressSession.MemoryStore)) {
        process.emitWarning('native-session: sessions are kept in memory under NODE_ENV=production; use a persistent store, ' +
          "e.g. sessions.store.use('redis', { url: process.env.REDIS_URL })", { code: 'NATIVE_SESSION_MEMORY_STORE' })
      }
      state.keyring = new Keyring(o.secret)
      const cookie = {}
      for (const k of COOKIE_KEYS) if (o[k] !== undefined) cookie[k] = o[k]
      const mw = { store: s, cookie }
      for (const k of SESSION_KEYS) if (o[k] !== undefined) mw[k] = o[k]
      state.middleware = session(mw)
      Object.freeze(values)
    } catch (err) {
      state.error = err
      if (err.code === 'ERR_SESSIONS_DEFAULT_SECRET') process.emitWarning(err.message, { code: err.code })
    }
    return state.error
  }

  function sessionId (req) {
    const header = req.headers.cookie
    return state.keyring.sessionId(typeof header === 'string' ? header : undefined, values.name)
  }

  function http () {
    return function sessions (req, res, next) {
      const err = lock()
      if (err) return next(err)
      state.middleware(req, res, next)
    }
  }

  function socket (upgradeReq) {
    if (!upgradeReq || typeof upgradeReq.headers !== 'object') {
      throw new TypeError('sessions.socket(upgradeReq): expected the HTTP upgrade request (the second argument of ws\'s "connection" event)')
    }
    const err = lock()
    return new SessionSocket({ get store () { return state.store }, options: values }, err ? undefined : sessionId(upgradeReq), err)
  }

  async function load (req) {
    if (!req || typeof req.headers !== 'object') throw new TypeError('sessions.load(req): expected an http.IncomingMessage')
    return socket(req).load()
  }

  return { options, store, http, socket, load }
}

module.exports = { createSessions }
