'use strict'
// RedisStore's connection on Node's own thread: a net.Socket this file owns, with the
// protocol in Rust (NativeRedisPipe, src/store/pipe.rs). On tokio every round trip cost two
// cross-thread wake-ups; here a tick's commands are one write and the replies one read,
// as in node-redis, but encoding, decoding and the expiry rules stay native.
//
// Failure rules, the same as the tokio connection's: every operation settles within
// `commandTimeout` (ERR_REDIS_TIMEOUT; the socket is then dropped, since the replies still
// owed would answer later commands); a refused or lost connection fails what was in flight
// with ERR_REDIS_UNAVAILABLE; the next operation reconnects; while Redis is down a PING
// every 250 ms reports its return.
const net = require('node:net')
const { codedError } = require('./util')

const PROBE_ID = 0xfffffff8 // never a RedisStore operation id (those wrap at 0xfffffff0)
const PROBE_MS = 250

// The pipe (free functions on a handle, src/bindings/redis.rs) as an object with the
// queueing methods of NativeRedisStore, so RedisStore queues on either the same way.
function pipeOf (n, h) {
  const scripts = new Map() // sha → index: each script's text crosses once
  return {
    get: (id, sid) => n.redisPipeGet(h, id, sid),
    set: (id, sid, json, expires, ttl) => n.redisPipeSet(h, id, sid, json, expires, ttl),
    touch: (id, sid, expires, ttl) => n.redisPipeTouch(h, id, sid, expires, ttl),
    destroy: (id, sid) => n.redisPipeDestroy(h, id, sid),
    eval: (id, sha, script, keys, args) => {
      let i = scripts.get(sha)
      if (i === undefined) scripts.set(sha, (i = n.redisPipeScript(h, sha, script)))
      n.redisPipeEval(h, id, i, keys, args)
    },
    cas: (id, sid, expected, json, expires, ttl, token) => n.redisPipeCas(h, id, sid, expected, json, expires, ttl, token),
    ping: (id) => n.redisPipePing(h, id),
    take: () => n.redisPipeTake(h),
    start: () => n.redisPipeStart(h),
    feed: (bytes) => n.redisPipeFeed(h, bytes),
    fail: (code, message) => n.redisPipeFail(h, code, message),
    sent: () => n.redisPipeSent(h),
    received: () => n.redisPipeReceived(h),
    pending: () => n.redisPipePending(h)
  }
}

class RedisSocket {
  // `onDone(results)`: results as NativeRedisStore.drain() gives them;
  // `onLink(up, err)`: Redis became unavailable (with the error) or available again.
  constructor (pipe, target, { connectTimeout, commandTimeout }, onDone, onLink) {
    this.pipe = pipe
    this.target = target
    this.connectTimeout = connectTimeout
    this.commandTimeout = commandTimeout
    this.onDone = onDone
    this.onLink = onLink
    this.socket = null
    this.ready = false
    this.up = true
    this.closed = false
    this.failure = null // why the socket is being closed
    this.deadlines = [] // [time, sent]: written up to `sent` must be answered by `time`
    this.timer = null
    this.probe = null
    this._onTimer = this._checkDeadlines.bind(this)
  }

  // Writes what the pipe has queued, connecting first when there is no connection.
  flush () {
    if (this.ready) this._write(this.pipe.take())
    else if (this.socket === null && this.pipe.pending() > 0) this._connect()
  }

  _connect () {
    const socket = net.connect({ host: this.target.host, port: this.target.port, noDelay: true })
    this.socket = socket
    this.failure = null
    socket.unref() // the store keeps the process alive only while operations are in flight
    socket.setTimeout(this.connectTimeout, () => {
      this._abort(socket, 'ERR_REDIS_TIMEOUT', `could not connect to Redis within ${this.connectTimeout} ms`)
    })
    socket.once('connect', () => {
      socket.setTimeout(0)
      this.ready = true
      this._write(this.pipe.start())
    })
    socket.on('data', (chunk) => this._read(socket, chunk))
    socket.on('error', (err) => {
      if (this.failure === null) this.failure = ['ERR_REDIS_UNAVAILABLE', `Redis is unavailable: ${err.message}`]
    })
    socket.on('close', () => this._closed(socket))
  }

  _write (bytes) {
    if (bytes === null) return
    this.socket.write(bytes)
    this.deadlines.push(Date.now() + this.commandTimeout, this.pipe.sent())
    if (this.timer === null) this.timer = setTimeout(this._onTimer, this.commandTimeout).unref()
  }

  _read (socket, chunk) {
    if (socket !== this.socket) return
    const done = this.pipe.feed(chunk)
    this._write(this.pipe.take()) // follow-ups: GET + PTTL of an expired cookie, EVAL after NOSCRIPT
    const received = this.pipe.received()
    const d = this.deadlines
    let n = 0
    while (n < d.length && d[n + 1] <= received) n += 2
    if (n > 0) d.splice(0, n)
    if (!this.up) this._link(true)
    const last = done.length - 3
    if (last >= 0 && done[last] === 0) { // the connection cannot go on (see NativeRedisPipe)
      const e = done[last + 2]
      done.length = last
      this._abort(socket, e[0], e[1])
    }
    if (done.length > 0) this.onDone(done)
    if (this.closed && this.pipe.pending() === 0) socket.end()
  }

  _checkDeadlines () {
    this.timer = null
    const d = this.deadlines
    if (d.length === 0) return
    const now = Date.now()
    if (d[0] <= now) {
      this._abort(this.socket, 'ERR_REDIS_TIMEOUT', `Redis did not answer within ${this.commandTimeout} ms`)
    } else {
      this.timer = setTimeout(this._onTimer, d[0] - now).unref()
    }
  }

  // Drops the connection; what was queued or in flight fails with `code`.
  _abort (socket, code, message) {
    if (socket === null || socket !== this.socket) return
    this.failure = [code, message]
    socket.destroy()
    this._closed(socket)
  }

  _closed (socket) {
    if (socket !== this.socket) return
    this.socket = null
    this.ready = false
    this.deadlines.length = 0
    if (this.timer !== null) { clearTimeout(this.timer); this.timer = null }
    const [code, message] = this.failure || ['ERR_REDIS_UNAVAILABLE', 'Redis is unavailable: the connection closed']
    const failed = this.pipe.fail(code, message)
    if (code === 'ERR_REDIS_UNAVAILABLE' || code === 'ERR_REDIS_TIMEOUT') {
      if (this.up) this._link(false, codedError(code, `RedisStore: ${message}`))
    }
    if (failed.length > 0) this.onDone(failed)
  }

  _link (up, err) {
    this.up = up
    if (this.closed) return
    if (!up && this.probe === null) {
      this.probe = setInterval(() => {
        if (this.up || this.closed) { clearInterval(this.probe); this.probe = null; return }
        if (this.socket === null) { this.pipe.ping(PROBE_ID); this.flush() }
      }, PROBE_MS).unref()
    }
    this.onLink(up, err)
  }

  // No new operations; the socket ends once those in flight are answered.
  close () {
    this.closed = true
    if (this.probe !== null) { clearInterval(this.probe); this.probe = null }
    if (this.socket !== null && this.pipe.pending() === 0) this.socket.end()
  }
}

module.exports = { RedisSocket, pipeOf }
