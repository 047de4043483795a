'use strict'
// The README's "Sessions over HTTP and websockets" server (app.js) runs as printed: a
// browser gets a session over HTTP, the websocket writes to it, the page shows it.
const test = require('node:test')
const assert = require('node:assert')
const fs = require('node:fs')
const path = require('node:path')
const { spawn } = require('node:child_process')
const { WebSocket } = require('ws')

test('README: the app.js of the guide runs and shares its session', { timeout: 60000 }, async (t) => {
  const readme = fs.readFileSync(path.join(__dirname, '..', 'README.md'), 'utf8')
  const guide = readme.slice(readme.indexOf('<!-- section: sessions over http and websockets -->'))
  const code = /```js\n(\/\/ app\.js\n[\s\S]*?)```/.exec(guide)[1]
  assert.match(code, /server\.listen\(3000\)/)
  const dir = path.join(__dirname, 'artifacts')
  fs.mkdirSync(dir, { recursive: true })
  const file = path.join(dir, 'readme-app.js')
  fs.writeFileSync(file, code.replace('server.listen(3000)',
    "server.listen(0, '127.0.0.1', () => console.log('port ' + server.address().port))"))
  const child = spawn(process.execPath, [file], { stdio: ['ignore', 'pipe', 'inherit'] })
  t.after(() => child.kill())
  const port = await new Promise((resolve, reject) => {
    child.stdout.on('data', (d) => { const m = /port (\d+)/.exec(d); if (m) resolve(Number(m[1])) })
    child.on('exit', (c) => reject(new Error(`app.js exited ${c}`)))
  })
  const url = `http://127.0.0.1:${port}/`
  const first = await fetch(url)
  assert.strictEqual(await first.text(), 'myVar is undefined, cart: undefined')
  const cookie = first.headers.getSetCookie()[0].split(';')[0]

  const ws = new WebSocket(url.replace('http', 'ws'), { headers: { cookie } })
  t.after(() => ws.terminate())
  await new Promise((resolve, reject) => { ws.on('open', resolve); ws.on('error', reject) })
  ws.send('updateSession')
  const [reply] = await new Promise((resolve) => ws.once('message', (...a) => resolve(a)))
  assert.match(reply.toString(), /^session saved: .*"myVar":1234/)
  assert.strictEqual(await (await fetch(url, { headers: { cookie } })).text(), 'myVar is 1234, cart: {"items":3,"checkout":false}')

  const anon = new WebSocket(url.replace('http', 'ws'))
  t.after(() => anon.terminate())
  await new Promise((resolve, reject) => { anon.on('open', resolve); anon.on('error', reject) })
  anon.send('updateSession')
  const [no] = await new Promise((resolve) => anon.once('message', (...a) => resolve(a)))
  assert.strictEqual(no.toString(), 'no session: ERR_SESSION_ANONYMOUS')
})
