'use strict'
// A small app for the createSessions() end-to-end tests: HTTP routes and websocket RPC
// sharing one session, a browser-like client (a cookie jar sent on both), on port 0.
const http = require('node:http')
const { WebSocketServer, WebSocket } = require('ws')

// The RPC actions, SocketStream-style: each gets a fresh req whose session is loaded.
const actions = {
  whoami: (req) => ({ sessionId: req.sessionId, user: req.session.user }),
  state: (req) => view(req.session),
  increment: async (req) => {
    req.session.counter = (req.session.counter || 0) + 1
    await req.session.save()
    return view(req.session)
  },
  addToCart: async (req, item) => {
    req.session.cart = req.session.cart || { items: [], checkout: false }
    req.session.cart.items.push(item)
    await req.session.save()
    return view(req.session)
  },
  set: async (req, { key, value }) => {
    req.session[key] = value
    await req.session.save()
    return view(req.session)
  }
}

function view (s) {
  return { user: s.user, counter: s.counter || 0, cart: s.cart || { items: [], checkout: false } }
}

// kind: 'express4' | 'express5' | 'connect'
function createApp (sessions, kind = 'express4') {
  const routes = {
    'POST /login': (req, res) => { req.session.user = new URL(req.url, 'http://x').searchParams.get('user'); send(res, view(req.session)) },
    'GET /state': (req, res) => send(res, view(req.session)),
    'POST /increment': (req, res) => { req.session.counter = (req.session.counter || 0) + 1; send(res, view(req.session)) },
    'POST /logout': (req, res) => req.session.destroy((err) => (err ? send(res, { error: err.message }, 500) : send(res, {})))
  }
  const handle = (req, res, next) => {
    const route = routes[`${req.method} ${new URL(req.url, 'http://x').pathname}`]
    return route ? route(req, res) : next()
  }
  let app
  if (kind === 'connect') {
    app = require('connect')()
    app.use(sessions.http())
    app.use(handle)
  } else {
    app = require(kind === 'express5' ? 'express5' : 'express')()
    app.use(sessions.http())
    app.use(handle)
    app.use((err, req, res, next) => send(res, { error: err.message, code: err.code }, 500))
  }
  const server = http.createServer(app)
  const wss = new WebSocketServer({ server })
  wss.on('connection', (ws, upgradeReq) => {
    const socket = sessions.socket(upgradeReq)
    ws.send(JSON.stringify({ hello: { sessionId: socket.sessionId ?? null } }))
    ws.on('message', async (data) => {
      const { id, action, args } = JSON.parse(data)
      const req = socket.request()
      try {
        await req.use('session')
        const result = await actions[action](req, args)
        ws.send(JSON.stringify({ id, result }))
      } catch (err) {
        ws.send(JSON.stringify({ id, error: { code: err.code, message: err.message } }))
      }
    })
  })
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => {
    const url = `http://127.0.0.1:${server.address().port}`
    resolve({
      url,
      server,
      wss,
      close: () => new Promise((resolve) => {
        for (const c of wss.clients) c.terminate()
        wss.close()
        server.closeAllConnections()
        server.close(() => resolve())
      })
    })
  }))
}

function send (res, body, status = 200) {
  res.statusCode = status
  res.setHeader('content-type', 'application/json')
  res.end(JSON.stringify(body))
}

// A browser: keeps the cookies the server sets and sends them over HTTP and websocket.
class Browser {
  constructor (url) { this.url = url; this.jar = new Map() }
  get cookie () { return [...this.jar].map(([k, v]) => `${k}=${v}`).join('; ') }
  setCookie (name, value) { this.jar.set(name, value) }

  async fetch (method, path) {
    const res = await fetch(this.url + path, { method, headers: this.jar.size ? { cookie: this.cookie } : {} })
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(';')
      const eq = pair.indexOf('=')
      this.jar.set(pair.slice(0, eq), pair.slice(eq + 1))
    }
    const body = await res.json()
    return { status: res.status, body, setCookie: res.headers.getSetCookie() }
  }

  // Opens a websocket carrying the current cookies; resolves once the server said hello.
  connect () {
    const ws = new WebSocket(this.url.replace('http', 'ws'), { headers: this.jar.size ? { cookie: this.cookie } : {} })
    const pending = new Map()
    let next = 0
    const client = {
      ws,
      call (action, args) {
        const id = ++next
        return new Promise((resolve, reject) => {
          pending.set(id, { resolve, reject })
          ws.send(JSON.stringify({ id, action, args }))
        })
      },
      close () { ws.terminate() }
    }
    return new Promise((resolve, reject) => {
      ws.on('error', reject)
      ws.on('message', (data) => {
        const msg = JSON.parse(data)
        if (msg.hello) { client.sessionId = msg.hello.sessionId; return resolve(client) }
        const p = pending.get(msg.id)
        pending.delete(msg.id)
        if (msg.error) p.reject(Object.assign(new Error(msg.error.message), { code: msg.error.code }))
        else p.resolve(msg.result)
      })
    })
  }
}

// Polls `fn` until it returns truthy (bounded), for expiry without tight timing.
async function until (fn, timeout = 20000, every = 100) {
  const end = Date.now() + timeout
  for (;;) {
    const v = await fn()
    if (v) return v
    if (Date.now() > end) throw new Error('condition not met in time')
    await new Promise((resolve) => setTimeout(resolve, every))
  }
}

module.exports = { createApp, Browser, until, actions }
