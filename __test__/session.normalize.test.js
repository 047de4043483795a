'use strict'
// session()'s `normalize` (README "What Express costs, and normalize"): Express's req and
// res are turned into dictionary-mode objects before anything is added to them; Node's own
// objects are left alone; nothing a program can see changes.
const test = require('node:test')
const assert = require('node:assert')
const http = require('node:http')
const { spawnSync } = require('node:child_process')
const path = require('node:path')
const express = require('express')
const { session } = require('../lib/session')
const { normalize } = require('../lib/util')

// What a route sees of req and res: their own keys (strings and symbols, in order).
function shape (obj) {
  return {
    keys: Object.keys(obj),
    symbols: Object.getOwnPropertySymbols(obj).map(String),
    forIn: (() => { const k = []; for (const p in obj) if (Object.hasOwn(obj, p)) k.push(p); return k })()
  }
}

async function seen (options) {
  const app = express()
  app.use(session({ secret: 's', resave: false, saveUninitialized: true, ...options }))
  let got
  app.get('/', (req, res) => {
    req.session.n = 1
    got = { req: shape(req), res: shape(res) }
    res.send('ok')
  })
  const server = http.createServer(app)
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  try {
    const res = await fetch(`http://127.0.0.1:${server.address().port}/`)
    assert.strictEqual(await res.text(), 'ok')
    assert.match(res.headers.get('set-cookie'), /^connect\.sid=s%3A/)
  } finally {
    server.closeAllConnections()
    server.close()
  }
  return got
}

test('normalize changes nothing a route can see of req and res (keys, symbols, order)', async () => {
  const on = await seen({})
  const off = await seen({ normalize: false })
  assert.ok(on.req.keys.includes('session') && on.req.keys.includes('sessionID'))
  // the dates and socket-bound values differ per request; the shapes must not
  assert.deepStrictEqual(on, off)
  assert.ok(!on.req.symbols.some((s) => s.includes('native-session normalize')))
  assert.ok(!on.res.symbols.some((s) => s.includes('native-session normalize')))
})

test('the normalize option must be a boolean', () => {
  assert.throws(() => session({ secret: 's', normalize: 'yes' }), { name: 'TypeError', message: 'normalize option must be a boolean' })
  assert.doesNotThrow(() => session({ secret: 's', resave: false, saveUninitialized: false, normalize: false }))
})

test('normalize leaves alone what it must not touch: null prototypes, frozen objects, class instances', () => {
  const bare = Object.create(null)
  bare.a = 1
  normalize(bare)
  assert.deepStrictEqual(Object.keys(bare), ['a'])
  const frozen = Object.freeze(Object.setPrototypeOf({ a: 1 }, { mixin: true }))
  assert.doesNotThrow(() => normalize(frozen))
  const mixed = Object.setPrototypeOf({ a: 1, b: 2 }, { mixin: true })
  normalize(mixed)
  assert.deepStrictEqual(Object.keys(mixed), ['a', 'b'])
  assert.deepStrictEqual(Object.getOwnPropertySymbols(mixed), [])
})

// V8's own view, in a child with --allow-natives-syntax: in Express 4 and 5 the route sees
// dictionary-mode req/res (normalize on) or fast-mode ones (off); a plain Node server's
// req/res stay fast-mode either way.
test('V8 sees dictionary-mode req/res in Express, and plain Node objects untouched', () => {
  const script = `
    const http = require('node:http')
    const express = require('express')
    const { session } = require(${JSON.stringify(path.join(__dirname, '..', 'lib', 'session'))})
    const opts = (o) => ({ secret: 's', resave: false, saveUninitialized: true, ...o })
    const fast = (req, res) => [%HasFastProperties(req), %HasFastProperties(res)]
    async function run (handler) {
      let got
      const server = http.createServer((req, res) => handler(req, res, (v) => { got = v }))
      await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
      await (await fetch('http://127.0.0.1:' + server.address().port + '/')).text()
      server.closeAllConnections(); server.close()
      return got
    }
    const viaExpress = (o, make = express) => (req, res, report) => {
      const app = make()
      app.use(session(opts(o)))
      app.get('/', (req, res) => { report(fast(req, res)); res.send('ok') })
      app(req, res)
    }
    const plain = (req, res, report) => session(opts({}))(req, res, () => { report(fast(req, res)); res.end('ok') })
    ;(async () => {
      const out = {
        express: await run(viaExpress({})),
        express5: await run(viaExpress({}, require('express5'))),
        expressOff: await run(viaExpress({ normalize: false })),
        plain: await run(plain)
      }
      process.stdout.write(JSON.stringify(out))
    })()`
  const r = spawnSync(process.execPath, ['--allow-natives-syntax', '-e', script], { cwd: path.join(__dirname, '..'), encoding: 'utf8' })
  assert.strictEqual(r.status, 0, r.stderr)
  assert.deepStrictEqual(JSON.parse(r.stdout), { express: [false, false], express5: [false, false], expressOff: [true, true], plain: [true, true] })
})
