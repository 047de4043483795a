// Type check (tsc --noEmit, run by __test__/sessions-types.test.js): the whole
// createSessions() API as a TypeScript app uses it, with @types/express-session.
import * as http from 'node:http'
import * as crypto from 'node:crypto'
import express = require('express')
import expressSession = require('express-session')
import { WebSocketServer } from 'ws'
import { Server as SocketIoServer } from 'socket.io'
import { RedisStore as ConnectRedisStore } from 'connect-redis'
import { createClient } from 'redis'
import { createSessions, session, MemoryStore, type Sessions, type SocketSession, type SessionsRequest } from '../..'

declare module 'express-session' {
  interface SessionData {
    user: string
    counter: number
    cart: { items: number, checkout: boolean }
  }
}

const sessions: Sessions = createSessions({ name: 'app.sid' })
const redis = sessions.store.use('redis', { port: 6379, prefix: 'sess:', ttl: 3600, transport: 'node' })
void redis.prefix
const transport: 'node' | 'tokio' = redis.transport
void transport
const mem = sessions.store.use('memory', { max: 10000 })
void mem.close
const custom = sessions.store.use(new expressSession.MemoryStore())
custom.all?.(() => {})
const store: expressSession.Store = sessions.store.get()
void store
sessions.options.maxAge = 24 * 60 * 60 * 1000
sessions.options.maxAge = null
sessions.options.secret = crypto.randomBytes(32).toString('hex')
sessions.options.secret = [process.env.SESSION_SECRET ?? 'new', 'old']
sessions.options.sameSite = 'lax'
sessions.options.secure = 'auto'
sessions.options.merge = true
sessions.options.lock = (req) => req.method === 'POST'
sessions.options.lockWait = 5000
sessions.options.normalize = true
// @ts-expect-error maxAge is a number
sessions.options.maxAge = '1 day'
// @ts-expect-error no such option
sessions.options.maxAg = 1
// @ts-expect-error 'mongo' is no store name
sessions.store.use('mongo')

const app = express()
app.use(sessions.http())
app.get('/updateSession', (req, res) => {
  req.session.counter = (req.session.counter ?? 0) + 1
  res.end(`counter is ${req.session.counter}`)
})
const server = http.createServer(app)

const io = new SocketIoServer(server)
io.engine.use(sessions.http())

const wss = new WebSocketServer({ server })
wss.on('connection', (ws, upgradeReq) => {
  const socket = sessions.socket(upgradeReq)
  const id: string | undefined = socket.sessionId
  void id
  ws.on('message', async () => {
    const req: SessionsRequest = socket.request()
    const session: SocketSession = await req.use('session')
    session.cart = { items: 3, checkout: false }
    const n: number | undefined = session.counter
    void n
    await session.save()
    session.save((err) => { if (err) console.error(err) })
    await session.reload()
    await session.touch()
    await session.release()
    await session.destroy()
    req.session?.resetMaxAge()
    req.use('session', (err, s) => { if (!err && s) s.user = 'x' })
    // @ts-expect-error only 'session'
    req.use('cookies')
    // @ts-expect-error cart has a shape
    session.cart = 'three'
  })
})

async function elsewhere (incoming: http.IncomingMessage): Promise<string | undefined> {
  const s = await sessions.load(incoming)
  const later = await sessions.socket(incoming).load()
  return s?.user ?? later?.user
}
void elsewhere

// session(), the express-session drop-in, with native-session's own options
const app2 = express()
app2.use(session({
  secret: ['new', 'old'],
  store: new MemoryStore(),
  resave: false,
  saveUninitialized: false,
  cookie: { maxAge: 60000, sameSite: 'lax' },
  merge: true,
  lock: (req) => req.method === 'POST',
  lockWait: 2000,
  normalize: false
}))
// @ts-expect-error normalize is a boolean
session({ secret: 's', normalize: 'yes' })
// any express-session store fits session()
app2.use(session({ secret: 's', store: new expressSession.MemoryStore() }))
app2.use(session({ secret: 's', store: new ConnectRedisStore({ client: createClient() }) }))
