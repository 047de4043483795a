'use strict'
// The demo page: plain browser JS, no build step.
const $ = (id) => document.getElementById(id)

// HTTP: the browser sends the session cookie itself.
async function http (method, path, body) {
  const res = await fetch(path, {
    method,
    headers: body ? { 'content-type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined
  })
  const data = await res.json()
  if (!res.ok) throw new Error(data.error || res.statusText)
  return data
}

// Websocket RPC: the upgrade request carries the same cookie; the server verifies it.
let ws
let opened
let nextId = 0
const pending = new Map()

function connect () {
  if (ws) ws.close()
  const socket = ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/rpc`)
  $('ws-status').textContent = 'connecting'
  opened = new Promise((resolve, reject) => {
    socket.onopen = () => { $('ws-status').textContent = 'open'; resolve() }
    socket.onerror = () => reject(new Error('websocket failed'))
  })
  socket.onclose = () => { if (ws === socket) $('ws-status').textContent = 'closed' }
  socket.onmessage = (event) => {
    const msg = JSON.parse(event.data)
    const p = pending.get(msg.id)
    if (!p) return
    pending.delete(msg.id)
    if (msg.error) p.reject(Object.assign(new Error(msg.error.message), { code: msg.error.code }))
    else p.resolve(msg.result)
  }
  return opened
}

function call (action, arg) {
  const id = ++nextId
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject })
    ws.send(JSON.stringify({ id, action, arg }))
  })
}

async function rpc (action, arg) {
  if (!ws || ws.readyState > 1) await connect()
  await opened
  try {
    return await call(action, arg)
  } catch (err) {
    if (err.code !== 'ERR_SESSION_NOT_FOUND' && err.code !== 'ERR_SESSION_ANONYMOUS') throw err
    // the socket's session is gone (signed out, expired): an HTTP request gets the browser a
    // new session cookie, and a new websocket carries it
    await http('GET', '/api/state')
    await connect()
    return call(action, arg)
  }
}

// Reads the session over both transports and shows both.
async function refresh () {
  const [overHttp, overWs] = await Promise.all([
    http('GET', '/api/state'),
    rpc('state').catch((err) => ({ error: err.code || err.message }))
  ])
  $('view-http').textContent = show(overHttp)
  $('view-ws').textContent = show(overWs)
  $('signin-form').hidden = Boolean(overHttp.user)
  $('app').hidden = !overHttp.user
  $('user').textContent = overHttp.user || ''
}

function show (v) {
  if (v.error) return `(${v.error})`
  return `user:    ${v.user || '—'}\ncounter: ${v.counter}\ncart:    ${v.cart.items.join(', ') || '(empty)'}`
}

async function run (fn) {
  $('error').textContent = ''
  try {
    await fn()
  } catch (err) {
    $('error').textContent = err.message
  }
  await refresh().catch((err) => { $('error').textContent = err.message })
}

$('login').onsubmit = (e) => {
  e.preventDefault()
  // signing in gives a new session id: reconnect so the websocket carries the new cookie
  run(async () => { await http('POST', '/api/login', { name: $('name').value }); await connect() })
}
$('signout').onclick = () => run(async () => { await http('POST', '/api/logout'); await connect() })
$('ws-increment').onclick = () => run(() => rpc('increment'))
$('http-increment').onclick = () => run(() => http('POST', '/api/increment'))
$('cart-form').onsubmit = (e) => {
  e.preventDefault()
  run(async () => { await rpc('addToCart', $('item').value); $('item').value = '' })
}
$('http-add').onclick = () => run(async () => { await http('POST', '/api/addToCart', { arg: $('item').value }); $('item').value = '' })
$('ws-empty').onclick = () => run(() => rpc('emptyCart'))

// The page load over HTTP created the session (and its cookie) before the websocket opens.
run(() => connect())
