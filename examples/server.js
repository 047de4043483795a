'use strict'
// The demo: one session for HTTP and websocket RPC (`npm start`, then open
// http://localhost:3000). Sign in over HTTP; the counter and the cart change over the
// websocket or over HTTP, and both sides always show the same session.
//
//   PORT=3000                                  where it listens (0: any free port)
//   SESSION_STORE=redis://127.0.0.1:6379       keep sessions in Redis (default: in memory)
//   SESSION_PREFIX=sess:                       their Redis key prefix
//   SESSION_SECRET=…                           the cookie secret (required with NODE_ENV=production)
const http = require('node:http')
const path = require('node:path')
const express = require('express')
const { WebSocketServer } = require('ws')
const { createSessions } = require('native-session')

function createDemo (env = process.env) {
  const sessions = createSessions()
  if (env.SESSION_STORE) sessions.store.use('redis', { url: env.SESSION_STORE, prefix: env.SESSION_PREFIX || 'sess:' })
  if (env.SESSION_SECRET) sessions.options.secret = env.SESSION_SECRET
  sessions.options.maxAge = 24 * 60 * 60 * 1000 // one day

  const app = express()
  app.use(sessions.http())
  app.use(express.json())
  app.use(express.static(path.join(__dirname, 'public')))

  // The same actions over both transports: each takes a loaded session and changes it.
  const actions = {
    state: (session) => view(session),
    increment: (session) => { signedIn(session); session.counter = (session.counter || 0) + 1 },
    addToCart: (session, item) => {
      signedIn(session)
      if (typeof item !== 'string' || !item.trim() || item.length > 40) throw new Error('an item is 1 to 40 characters')
      session.cart = session.cart || { items: [], checkout: false }
      session.cart.items.push(item.trim())
    },
    emptyCart: (session) => { signedIn(session); session.cart = { items: [], checkout: false } }
  }

  // HTTP: express-session semantics, the session is saved when the response ends.
  app.post('/api/login', (req, res, next) => {
    const name = String((req.body && req.body.name) || '').trim()
    if (!name || name.length > 32) return res.status(400).json({ error: 'a name is 1 to 32 characters' })
    // a new session id on sign-in (no session fixation); the page then reconnects its websocket
    req.session.regenerate((err) => {
      if (err) return next(err)
      req.session.user = name
      res.json(view(req.session))
    })
  })
  app.post('/api/logout', (req, res, next) => {
    req.session.destroy((err) => (err ? next(err) : res.json(view(undefined))))
  })
  app.get('/api/state', (req, res) => res.json(view(req.session)))
  app.post('/api/:action', (req, res) => {
    const action = Object.hasOwn(actions, req.params.action) && actions[req.params.action]
    if (!action) return res.status(404).json({ error: 'no such action' })
    try {
      action(req.session, req.body && req.body.arg)
      res.json(view(req.session))
    } catch (err) {
      res.status(400).json({ error: err.message })
    }
  })

  const server = http.createServer(app)

  // Websocket RPC: one request per message, the session loaded fresh and saved explicitly.
  const wss = new WebSocketServer({ server, path: '/rpc' })
  wss.on('connection', (ws, upgradeReq) => {
    const socket = sessions.socket(upgradeReq)
    ws.on('message', async (data) => {
      let msg
      try { msg = JSON.parse(data) } catch { return ws.close(1003, 'JSON expected') }
      const action = Object.hasOwn(actions, msg.action) && actions[msg.action]
      try {
        if (!action) throw new Error('no such action')
        const req = socket.request()
        await req.use('session')
        action(req.session, msg.arg)
        if (msg.action !== 'state') await req.session.save()
        ws.send(JSON.stringify({ id: msg.id, result: view(req.session) }))
      } catch (err) {
        ws.send(JSON.stringify({ id: msg.id, error: { message: err.message, code: err.code } }))
      }
    })
  })

  return { app, server, sessions }
}

function signedIn (session) {
  if (!session.user) throw Object.assign(new Error('sign in first'), { code: 'SIGN_IN_FIRST' })
}

function view (session) {
  if (!session) return { user: null, counter: 0, cart: { items: [], checkout: false } }
  return {
    user: session.user || null,
    sessionId: session.id.slice(0, 8) + '…',
    counter: session.counter || 0,
    cart: session.cart || { items: [], checkout: false }
  }
}

if (require.main === module) {
  const { server, sessions } = createDemo()
  const port = process.env.PORT === undefined ? 3000 : Number(process.env.PORT)
  server.listen(port, () => {
    console.log(`native-session demo on http://localhost:${server.address().port} ` +
      `(sessions in ${process.env.SESSION_STORE ? 'Redis' : 'memory'})`)
  })
  const stop = () => {
    server.close()
    server.closeAllConnections()
    const store = sessions.store.get()
    if (typeof store.close === 'function') store.close(() => process.exit(0))
    else process.exit(0)
  }
  process.on('SIGINT', stop)
  process.on('SIGTERM', stop)
}

module.exports = { createDemo }
