'use strict'
// RedisStore: an express-session store on Redis, byte-compatible with connect-redis 9/10.
// The Redis work runs in Rust; this file checks arguments, turns sessions into JSON and
// back, and settles callbacks/Promises. On a single node over plain TCP, get/set/touch/
// destroy and the scripts go through a socket on this thread (lib/redis-socket.js, the
// protocol in src/store/pipe.rs); everything else, and clusters and TLS, runs on tokio
// (src/store/redis.rs), whose results come back in batches: the native side wakes this
// thread once and `drain()` hands over every finished operation (src/bindings/redis.rs).
const crypto = require('node:crypto')
const fs = require('node:fs')
const { Store } = require('express-session')
const { settle, expiresAt, codedError } = require('./util')
const merge = require('./merge')
const { stringifySession } = require('./session/json')
const { RedisSocket, pipeOf } = require('./redis-socket')

let native
function addon () {
  if (!native) native = require('./native')
  return native
}

const KIND_OK = 0
const KIND_FAILED = 1
const KIND_DOWN = 2
const KIND_UP = 3

function typeError (message) {
  return codedError('ERR_INVALID_ARG_TYPE', message, TypeError)
}

function checkSid (sid) {
  if (typeof sid !== 'string') throw typeError(`The "sid" argument must be of type string. Received ${typeof sid}`)
}

function pem (value, name) {
  if (value == null) return undefined
  if (typeof value === 'string') return value
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) return Buffer.from(value).toString('utf8')
  throw typeError(`tls.${name} must be a PEM string or Buffer`)
}

function readPem (tls, name) {
  const file = tls[name + 'File']
  if (file != null) return fs.readFileSync(file, 'utf8')
  return pem(tls[name], name)
}

// username / password / db given beside a url go into it
function withCredentials (url, o) {
  if (o.username == null && o.password == null && o.db == null) return url
  let u
  try { u = new URL(url) } catch { return url } // the native side reports a bad URL
  if (o.username != null) u.username = String(o.username)
  if (o.password != null) u.password = String(o.password)
  if (o.db != null) u.pathname = '/' + Number(o.db)
  return u.toString()
}

const secured = (url, secure) => secure && url.startsWith('redis://') ? 'rediss://' + url.slice(8) : url

function nodeUrl (o, node, secure) {
  if (typeof node === 'string') return secured(node, secure)
  const host = node.host == null ? '127.0.0.1' : String(node.host)
  const port = node.port == null ? 6379 : Number(node.port)
  if (!Number.isInteger(port) || port <= 0 || port > 65535) throw codedError('ERR_REDIS_CONFIG', `invalid Redis port: ${node.port}`, RangeError)
  const user = o.username != null ? encodeURIComponent(o.username) : ''
  const auth = o.password != null ? `${user}:${encodeURIComponent(o.password)}@` : (user ? `${user}@` : '')
  const h = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host
  const db = o.db != null && !o.cluster ? `/${Number(o.db)}` : ''
  return `${secure ? 'rediss' : 'redis'}://${auth}${h}:${port}${db}`
}

function positive (value, name, fallback) {
  if (value == null) return fallback
  if (typeof value !== 'number' || !(value > 0) || !Number.isFinite(value)) {
    throw codedError('ERR_REDIS_CONFIG', `${name} must be a positive number`, RangeError)
  }
  return value
}

// Options in (connection + connect-redis store options), native options out.
function nativeOptions (o) {
  const tls = o.tls && typeof o.tls === 'object' ? o.tls : (o.tls ? {} : null)
  const out = {
    prefix: o.prefix == null ? 'sess:' : String(o.prefix),
    ttl: typeof o.ttl === 'number' && o.ttl ? o.ttl : 86400,
    scanCount: Math.max(1, Math.min(0xffffffff, Math.floor(Number(o.scanCount) || 100))),
    disableTtl: !!o.disableTTL,
    disableTouch: !!o.disableTouch,
    connectTimeout: positive(o.connectTimeout, 'connectTimeout', 2000),
    commandTimeout: positive(o.commandTimeout, 'commandTimeout', 2000)
  }
  if (o.cluster != null) {
    if (!Array.isArray(o.cluster) || o.cluster.length === 0) throw codedError('ERR_REDIS_CONFIG', 'cluster must be a non-empty array of { host, port } or redis:// URLs', TypeError)
    out.cluster = o.cluster.map((n) => nodeUrl(o, n, !!tls))
  } else if (o.url != null) {
    if (typeof o.url !== 'string') throw typeError('url must be a string')
    out.url = secured(withCredentials(o.url, o), !!tls)
  } else {
    out.url = nodeUrl(o, { host: o.host, port: o.port }, !!tls)
  }
  if (tls) {
    out.tlsCa = readPem(tls, 'ca')
    out.tlsCert = readPem(tls, 'cert')
    out.tlsKey = readPem(tls, 'key')
  }
  return out
}

class RedisStore extends Store {
  constructor (options = {}) {
    super()
    if (options === null || typeof options !== 'object') throw typeError('options must be an object')
    const opts = nativeOptions(options)
    const { transport } = options
    if (transport != null && transport !== 'node' && transport !== 'tokio') {
      throw codedError('ERR_REDIS_CONFIG', "transport must be 'node' or 'tokio'", RangeError)
    }
    this.prefix = opts.prefix
    this.ttl = typeof options.ttl === 'function' ? options.ttl : opts.ttl
    this.scanCount = opts.scanCount
    this.disableTTL = opts.disableTtl
    this.disableTouch = opts.disableTouch
    this.commandTimeout = opts.commandTimeout
    this.tombstoneTtl = positive(options.tombstoneTtl, 'tombstoneTtl', 60000)
    // express-session stops using a store that emits 'disconnect' and then serves requests
    // without a session; by default this store reports outages as errors on each request
    // instead (see README), and emits 'disconnect'/'connect' only when asked to.
    this.disconnectEvents = !!options.disconnectEvents
    this.available = true
    this._pending = new Map()
    this._settled = 0
    this._nextId = 0
    this._closed = false
    this._onClosed = null
    this._flushScheduled = false
    this._settleAll = this._settleAll.bind(this)
    // keeps the event loop alive while operations are in flight (the wake-up itself is weak)
    this._keepAlive = setInterval(noop, 0x7fffffff)
    this._keepAlive.unref()
    this._native = new (addon().NativeRedisStore)(opts, () => this._settleAll(this._native.drain()))
    const target = transport === 'tokio' ? null : this._native.directTarget()
    if (!target && transport === 'node') {
      throw codedError('ERR_REDIS_CONFIG', "transport 'node' needs a single Redis node over plain TCP", RangeError)
    }
    this.transport = target ? 'node' : 'tokio'
    // where get/set/touch/destroy/eval queue: a pipe for our own socket, or tokio
    this._queue = target ? pipeOf(addon(), addon().redisPipeCreate(this._native)) : this._native
    this._socket = target
      ? new RedisSocket(this._queue, target, opts, this._settleAll, (up, err) => this._availability(up, err))
      : null
    this._flush = () => { this._flushScheduled = false; (this._socket || this._native).flush() }
  }

  // Starts one native operation; `queued` ones (get/set/touch/destroy/eval) go out together
  // with everything else queued before the check phase (setImmediate, as node-redis does:
  // one write for all the requests one turn of the event loop read), as one pipeline.
  // `_settleAll` settles it: with a callback `cb`, as settle() does (the result or error to
  // `cb` on a later tick, and the Promise resolves with the result, never rejects); `map`
  // turns the raw result into the method's (a throw fails the operation). No Promise chain
  // per operation.
  _call (fn, queued, cb, map) {
    const hasCb = typeof cb === 'function'
    if (this._closed) return settle(Promise.reject(codedError('ERR_REDIS_CLOSED', 'the RedisStore is closed')), cb)
    const id = this._nextId = this._nextId >= 0xfffffff0 ? 1 : this._nextId + 1
    return new Promise((resolve, reject) => {
      try {
        fn(id)
      } catch (err) {
        if (hasCb) { process.nextTick(cb, err); resolve() } else reject(err)
        return
      }
      if (this._pending.size === 0) this._keepAlive.ref()
      this._pending.set(id, { resolve, reject, cb: hasCb ? cb : null, map: map || null })
      if (queued && !this._flushScheduled) {
        this._flushScheduled = true
        setImmediate(this._flush)
      }
    })
  }

  // Settles finished operations: `done` as NativeRedisStore.drain() gives them.
  _settleAll (done) {
    for (let i = 0; i < done.length; i += 3) {
      const kind = done[i + 1]
      const value = done[i + 2]
      if (kind === KIND_DOWN || kind === KIND_UP) {
        this._availability(kind === KIND_UP, codedError(value && value[0], `RedisStore: ${value && value[1]}`))
        continue
      }
      const p = this._pending.get(done[i])
      if (p === undefined) continue
      this._pending.delete(done[i])
      let err = null
      let v = value
      if (kind !== KIND_OK) err = codedError(value[0], `RedisStore: ${value[1]}`)
      else if (p.map !== null) {
        try { v = p.map(v) } catch (e) { err = e }
      }
      if (p.cb !== null) {
        if (err !== null) { process.nextTick(p.cb, err); p.resolve() } else { process.nextTick(p.cb, null, v); p.resolve(v) }
      } else if (err !== null) p.reject(err)
      else p.resolve(v)
    }
    this._settled += done.length / 3
    if (this._pending.size === 0 || this._settled >= RENEW_AFTER) this._renewPending()
    if (this._pending.size === 0) {
      this._keepAlive.unref()
      if (this._onClosed) { const f = this._onClosed; this._onClosed = null; f() }
    }
  }

  // A new table of pending operations. A long-lived Map that keeps gaining and losing
  // entries gets promoted to V8's old generation, and the tables it leaves behind as it
  // grows keep recent (dead) operations alive through every young-generation GC until a
  // full one: measured over websocket RPC, 1.2 MB promoted per scavenge and 5 ms scavenges,
  // against none with a fresh Map (README "Speed").
  _renewPending () {
    this._settled = 0
    this._pending = this._pending.size === 0 ? new Map() : new Map(this._pending)
  }

  // Redis went away (`err` says how) or came back; reported once per change, whichever
  // connection noticed it.
  _availability (up, err) {
    if (this._closed || this.available === up) return
    this.available = up
    if (up) {
      this.emit('available')
      if (this.disconnectEvents) this.emit('connect')
    } else {
      this.emit('unavailable', err)
      if (this.disconnectEvents) this.emit('disconnect')
    }
  }

  // The TTL override: the `ttl` option's function, else undefined (Rust computes it from
  // cookie.expires or the `ttl` number, connect-redis's rule).
  _ttl (sess) {
    if (typeof this.ttl !== 'function') return undefined
    const t = this.ttl(sess)
    if (typeof t !== 'number' || Number.isNaN(t)) throw typeError('the ttl function must return a number of seconds')
    return t
  }

  // The stored JSON of a live session, or null.
  getJSON (sid, cb) {
    return this._call((id) => { checkSid(sid); this._queue.get(id, sid) }, true, cb)
  }

  get (sid, cb) {
    return this._call((id) => { checkSid(sid); this._queue.get(id, sid) }, true, cb,
      (json) => json == null ? null : parseSession(json, sid))
  }

  // Stores `json` exactly; `sess` gives the TTL (cookie.expires, or the ttl function).
  setJSON (sid, json, sess, cb) {
    return this._call((id) => {
      checkSid(sid)
      if (typeof json !== 'string') throw typeError('The "json" argument must be of type string')
      this._queue.set(id, sid, json, expiresAt(sess), this._ttl(sess))
    }, true, cb)
  }

  set (sid, sess, cb) {
    if (merge.isLoaded(sess)) return merge.mergeSet(this, sid, sess, cb) // README "Concurrent writes"
    return this._call((id) => {
      checkSid(sid)
      const json = stringifySession(sess)
      if (typeof json !== 'string') throw typeError('the session must be an object JSON.stringify can serialise')
      this._queue.set(id, sid, json, expiresAt(sess), this._ttl(sess))
    }, true, cb, noValue)
  }

  touch (sid, sess, cb) {
    return this._call((id) => {
      checkSid(sid)
      this._queue.touch(id, sid, expiresAt(sess), this._ttl(sess))
    }, true, cb, noValue)
  }

  destroy (sid, cb) {
    if (this.prefix !== '' && typeof sid === 'string') {
      // with a tombstone (see casJSON below)
      return settle(this._eval('destroy', [this.prefix + sid, this._tagged(sid, 'tomb')], [String(this.tombstoneTtl)]).then(noValue), cb)
    }
    return this._call((id) => { checkSid(sid); this._queue.destroy(id, sid) }, true, cb, noValue)
  }

  all (cb) {
    return settle(this._call((id) => this._native.all(id)).then((flat) => {
      const out = []
      for (let i = 0; i < flat.length; i += 2) {
        const sess = parseSession(flat[i + 1], flat[i])
        sess.id = flat[i]
        out.push(sess)
      }
      return out
    }), cb)
  }

  ids (cb) {
    return settle(this._call((id) => this._native.ids(id)), cb)
  }

  length (cb) {
    return settle(this._call((id) => this._native.length(id)), cb)
  }

  clear (cb) {
    return settle(this._call((id) => this._native.clear(id)).then(noValue), cb)
  }

  // Releases the connection. Resolves once the operations in flight have settled.
  close (cb) {
    if (!this._closed) {
      this._closed = true
      this._native.close()
      if (this._socket) this._socket.close()
    }
    const p = this._pending.size === 0
      ? Promise.resolve()
      : new Promise((resolve) => {
        const before = this._onClosed
        this._onClosed = before ? () => { before(); resolve() } : resolve
      })
    return settle(p, cb)
  }
}

const RENEW_AFTER = 4096 // settled operations between two _renewPending() under steady load

function noop () {}
function noValue () {}

function parseSession (json, sid) {
  try {
    const sess = merge.parseLoaded(json)
    if (sess !== null && typeof sess === 'object') return sess
  } catch {}
  throw codedError('ERR_REDIS_BAD_DATA', `RedisStore: the stored session ${JSON.stringify(sid)} is not a JSON object`)
}

// Concurrent writes (lib/merge.js, README "Concurrent writes"): Lua scripts, so each step
// is atomic in Redis. A session `<prefix><sid>` has two companions in the same cluster slot
// (the hash tag is the session key): `{<prefix><sid>}:tomb`, set for `tombstoneTtl` ms when
// it is destroyed, and `{<prefix><sid>}:lock`. Neither matches `SCAN MATCH <prefix>*`, so
// ids/all/length/clear (ours and connect-redis's) never see them. With an empty prefix
// there are no tombstones (they would look like sessions).
const SCRIPTS = {
  // (the compare-and-set is src/store/redis.rs CAS_SCRIPT, queued natively: redisPipeCas)
  // KEYS: session, tomb. ARGV: tombstone ms.
  destroy: `redis.call('SET', KEYS[2], '1', 'PX', ARGV[1])
return redis.call('DEL', KEYS[1])`,
  // KEYS: lock. ARGV: token, lease ms.
  lock: `if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 'ok' end
return 'busy'`,
  // KEYS: lock. ARGV: token.
  unlock: `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`
}
// crypto.hash (Node ≥ 20.12) is one call, half the time of a Hash object
const sha1Hex = typeof crypto.hash === 'function' ? (s) => crypto.hash('sha1', s) : (s) => crypto.createHash('sha1').update(s).digest('hex')
const SHA = {}
for (const k of Object.keys(SCRIPTS)) SHA[k] = sha1Hex(SCRIPTS[k])

Object.assign(RedisStore.prototype, {
  createSession: merge.createSession,

  _eval (name, keys, args, cb) {
    return this._call((id) => this._queue.eval(id, SHA[name], SCRIPTS[name], keys, args), true, cb)
  },

  _tagged (sid, what) { return `{${this.prefix}${sid}}:${what}` },

  // Stores `json` if the stored JSON is `expected` (null: if there is none and the id was
  // not destroyed lately). → 'ok', 'gone', 'fenced' or the stored JSON (a conflict).
  casJSON (sid, expected, json, sess, token, cb) {
    return this._cas(sid, expected, json, sess, token, cb)
  },

  // (the same, for set(): express-session's save is one store write, not two)
  _cas (sid, expected, json, sess, token, cb) {
    return this._call((id) => {
      checkSid(sid)
      if (typeof json !== 'string') throw typeError('The "json" argument must be of type string')
      if (expected != null && typeof expected !== 'string') throw typeError('The "expected" argument must be a string or null')
      this._queue.cas(id, sid, expected ?? null, json, expiresAt(sess), this._ttl(sess), token == null ? null : String(token))
    }, true, cb)
  },

  // cb(err, token): the lock of `sid` (SET NX PX), polled until `waitMs`.
  lockSession (sid, leaseMs, waitMs, cb) {
    const token = `${process.pid}.${crypto.randomBytes(9).toString('base64url')}`
    const key = this._tagged(sid, 'lock')
    const until = Date.now() + waitMs
    let pause = 2
    const attempt = () => {
      this._eval('lock', [key], [token, String(Math.ceil(leaseMs))]).then((r) => {
        if (r === 'ok') return cb(null, token)
        if (Date.now() >= until) {
          return cb(codedError('ERR_SESSION_LOCK_TIMEOUT', `could not lock the session within ${waitMs} ms (another request holds it)`))
        }
        setTimeout(attempt, Math.min(pause, Math.max(1, until - Date.now())) * (0.5 + Math.random()))
        pause = Math.min(pause * 2, 25)
      }, cb)
    }
    try { checkSid(sid) } catch (err) { process.nextTick(cb, err); return }
    attempt()
  },

  unlockSession (sid, token, cb) {
    return settle(this._eval('unlock', [this._tagged(sid, 'lock')], [String(token)]).then(noValue), cb)
  }
})

module.exports = { RedisStore }
