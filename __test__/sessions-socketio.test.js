'use strict'
// socket.io shares the session the way its docs show for express-session:
// `io.engine.use(sessions.http())`, then `socket.request.session` (reload / save); and
// sessions.socket(socket.request) gives the SocketStream-style per-RPC requests.
const test = require('node:test')
const assert = require('node:assert')
const http = require('node:http')
const express = require('express')
const { Server } = require('socket.io')
const { io: connect } = require('socket.io-client')
const { createSessions } = require('..')
const { Browser } = require('./helpers/sessions-app')

async function start (t) {
  const sessions = createSessions({ secret: 'socket.io test' })
  const app = express()
  app.use(sessions.http())
  app.post('/login', (req, res) => { req.session.user = 'alice'; res.json({ user: 'alice' }) })
  app.get('/state', (req, res) => res.json({ user: req.session.user, counter: req.session.counter || 0 }))
  app.post('/increment', (req, res) => { req.session.counter = (req.session.counter || 0) + 1; res.json({}) })
  const server = http.createServer(app)
  const io = new Server(server)
  io.engine.use(sessions.http())
  io.on('connection', (socket) => {
    const session = socket.request.session // express-session's documented way
    const rpc = sessions.socket(socket.request) // the SocketStream way
    socket.emit('hello', { user: session && session.user, sessionId: rpc.sessionId })
    socket.on('increment', (ack) => {
      session.reload((err) => {
        if (err) return ack({ error: err.message })
        const s = socket.request.session
        s.counter = (s.counter || 0) + 1
        s.save((err) => ack(err ? { error: err.message } : { counter: s.counter }))
      })
    })
    socket.on('rpc:state', async (ack) => {
      try {
        const s = await rpc.request().use('session')
        ack({ user: s.user, counter: s.counter || 0 })
      } catch (err) { ack({ error: err.code }) }
    })
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${server.address().port}`
  t.after(() => new Promise((resolve) => { io.close(); server.closeAllConnections(); server.close(() => resolve()) }))
  return { url, sessions }
}

for (const transports of [['websocket'], ['polling', 'websocket']]) {
  test(`socket.io (${transports.join(' → ')}): one session with HTTP`, { timeout: 60000 }, async (t) => {
    const { url } = await start(t)
    const browser = new Browser(url)
    await browser.fetch('POST', '/login')
    const client = connect(url, { transports, extraHeaders: { cookie: browser.cookie }, reconnection: false, forceNew: true })
    t.after(() => client.close())
    const [hello] = await new Promise((resolve) => client.once('hello', (...a) => resolve(a)))
    assert.strictEqual(hello.user, 'alice')
    assert.ok(hello.sessionId)
    assert.deepStrictEqual(await client.timeout(10000).emitWithAck('increment'), { counter: 1 })
    assert.deepStrictEqual((await browser.fetch('GET', '/state')).body, { user: 'alice', counter: 1 })
    await browser.fetch('POST', '/increment')
    assert.deepStrictEqual(await client.timeout(10000).emitWithAck('rpc:state'), { user: 'alice', counter: 2 })
    assert.deepStrictEqual(await client.timeout(10000).emitWithAck('increment'), { counter: 3 })
    assert.strictEqual((await browser.fetch('GET', '/state')).body.counter, 3)
  })
}

test('socket.io: a client without the cookie has no session of anyone', { timeout: 60000 }, async (t) => {
  const { url } = await start(t)
  const alice = new Browser(url)
  await alice.fetch('POST', '/login')
  const client = connect(url, { transports: ['websocket'], reconnection: false, forceNew: true })
  t.after(() => client.close())
  const [hello] = await new Promise((resolve) => client.once('hello', (...a) => resolve(a)))
  assert.strictEqual(hello.user, undefined)
  assert.strictEqual(hello.sessionId, undefined)
  assert.deepStrictEqual(await client.timeout(10000).emitWithAck('rpc:state'), { error: 'ERR_SESSION_ANONYMOUS' })
})
