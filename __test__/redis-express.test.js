'use strict'
// express-session driving RedisStore over real HTTP: the memory-store scenarios, on Redis.
const test = require('node:test')
const assert = require('node:assert')
const http = require('node:http')
const express = require('express')
const session = require('express-session')
const signature = require('cookie-signature')
const { createClient } = require('redis')
const { RedisStore } = require('..')
const { redisOrSkip, REDIS_PORT } = require('./helpers/redis')

const SECRET = 'keyboard cat'

async function start (t, sessionOptions = {}) {
  const prefix = `test:redis-express:${Math.random().toString(36).slice(2)}:`
  const store = new RedisStore({ port: REDIS_PORT, prefix, commandTimeout: 10000 })
  const client = createClient({ url: `redis://127.0.0.1:${REDIS_PORT}` })
  await client.connect()
  const app = express()
  app.use(session({ store, secret: SECRET, resave: false, saveUninitialized: false, ...sessionOptions }))
  app.get('/set', (req, res) => { req.session.n = (req.session.n || 0) + 1; res.json({ n: req.session.n, id: req.sessionID }) })
  app.get('/get', (req, res) => res.json({ n: req.session.n ?? null, id: req.sessionID }))
  app.get('/destroy', (req, res, next) => req.session.destroy((err) => err ? next(err) : res.json({ ok: true })))
  app.get('/regenerate', (req, res, next) => {
    const n = req.session.n
    req.session.regenerate((err) => {
      if (err) return next(err)
      req.session.n = n
      res.json({ id: req.sessionID })
    })
  })
  const server = http.createServer(app)
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const base = `http://127.0.0.1:${server.address().port}`
  t.after(async () => {
    server.close()
    await store.clear()
    await store.close()
    await client.quit()
  })
  async function get (path, cookie) {
    const res = await fetch(base + path, { headers: cookie ? { cookie } : {} })
    const setCookie = res.headers.get('set-cookie')
    return { status: res.status, body: await res.json(), cookie: setCookie ? setCookie.split(';')[0] : undefined }
  }
  return { store, client, prefix, get }
}

test('express-session + RedisStore over HTTP: new, persist, destroy, regenerate, tampered', async (t) => {
  if (!await redisOrSkip(t)) return
  const { get, client, prefix } = await start(t, { cookie: { maxAge: 60000 } })
  const first = await get('/set')
  assert.strictEqual(first.body.n, 1)
  assert.ok(first.cookie && first.cookie.startsWith('connect.sid=s%3A'))
  const stored = JSON.parse(await client.get(prefix + first.body.id))
  assert.strictEqual(stored.n, 1)
  assert.strictEqual(stored.cookie.originalMaxAge, 60000)
  const second = await get('/set', first.cookie)
  assert.strictEqual(second.body.n, 2)
  assert.strictEqual(second.body.id, first.body.id)
  assert.strictEqual((await get('/get', first.cookie)).body.n, 2)
  // tampered: a different id signed with another secret, and a modified signature
  const forged = 'connect.sid=' + encodeURIComponent('s:' + signature.sign(first.body.id, 'wrong'))
  assert.strictEqual((await get('/get', forged)).body.n, null)
  // (the third-last character, a full base64 digit of the signature, always changed)
  const flipped = first.cookie.slice(0, -3) + (first.cookie.at(-3) === 'A' ? 'B' : 'A') + first.cookie.slice(-2)
  assert.notStrictEqual(flipped, first.cookie)
  assert.strictEqual((await get('/get', flipped)).body.n, null)
  // regenerate: a new id, the old key gone
  const regen = await get('/regenerate', first.cookie)
  assert.notStrictEqual(regen.body.id, first.body.id)
  assert.strictEqual(await client.exists(prefix + first.body.id), 0)
  assert.strictEqual((await get('/get', regen.cookie)).body.n, 2)
  assert.strictEqual((await get('/get', first.cookie)).body.n, null)
  // destroy
  await get('/destroy', regen.cookie)
  assert.strictEqual(await client.exists(prefix + regen.body.id), 0)
  assert.strictEqual((await get('/get', regen.cookie)).body.n, null)
})

test('touch extends the key; rolling re-sends the cookie', async (t) => {
  if (!await redisOrSkip(t)) return
  const { get, client, prefix } = await start(t, { cookie: { maxAge: 100e3 }, rolling: true })
  const first = await get('/set')
  const key = prefix + first.body.id
  await client.expire(key, 50) // as if time had passed
  const again = await get('/get', first.cookie) // unmodified: express-session calls touch
  assert.ok(again.cookie, 'rolling sends the cookie again')
  const ttl = await client.ttl(key)
  assert.ok(ttl > 90, `touch moved the expiry (ttl ${ttl})`)
})

test('a short maxAge ends the session when the cookie expires, not a second later', async (t) => {
  if (!await redisOrSkip(t)) return
  const { get, client, prefix } = await start(t, { cookie: { maxAge: 1200 } })
  const first = await get('/set')
  const stored = JSON.parse(await client.get(prefix + first.body.id))
  const expires = new Date(stored.cookie.expires).getTime()
  while (Date.now() <= expires + 5) await new Promise((resolve) => setTimeout(resolve, 50))
  const after = await get('/get', first.cookie)
  assert.strictEqual(after.body.n, null)
  assert.notStrictEqual(after.body.id, first.body.id)
})
