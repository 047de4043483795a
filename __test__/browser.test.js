'use strict'
// The demo in a real browser: headless Chromium (Debian's /usr/bin/chromium) driven by
// playwright-core. Sign in over HTTP, click to change the counter over the websocket,
// reload, and see the same value over both transports. Saves a screenshot in
// __test__/artifacts/. Under CI=true it must run; elsewhere it skips without chromium.
const test = require('node:test')
const assert = require('node:assert')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { spawn } = require('node:child_process')
const { redisOrSkip, REDIS_PORT } = require('./helpers/redis')

const CHROMIUM = '/usr/bin/chromium'
const ARTIFACTS = path.join(__dirname, 'artifacts')
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic',
  '--no-first-run', '--disable-component-update', '--disable-sync']

function chromiumOrSkip (t) {
  if (fs.existsSync(CHROMIUM)) return true
  if (process.env.CI === 'true') throw new Error(`${CHROMIUM} is missing and CI=true (apt-get install chromium)`)
  t.skip(`${CHROMIUM} is missing`)
  return false
}

// Starts the demo the way `npm start` does, on a free port; resolves to its URL.
function startDemo (t, env = {}) {
  const child = spawn(process.execPath, [path.join(__dirname, '..', 'examples', 'server.js')], {
    env: { ...process.env, PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  t.after(() => new Promise((resolve) => {
    if (child.exitCode !== null) return resolve()
    const timer = setTimeout(() => { child.kill('SIGKILL'); resolve() }, 10000)
    child.once('exit', () => { clearTimeout(timer); resolve() })
    child.kill('SIGTERM')
  }))
  let out = ''
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the demo did not start: ${out}`)), 30000)
    child.stdout.on('data', (d) => {
      out += d
      const m = /on (http:\/\/localhost:\d+)/.exec(out)
      if (m) { clearTimeout(timer); resolve(m[1].replace('localhost', '127.0.0.1')) }
    })
    child.stderr.on('data', (d) => { out += d })
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`the demo exited (${code}): ${out}`)) })
  })
}

async function launch (t) {
  const { chromium } = require('playwright-core')
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'native-session-chromium-'))
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM, headless: true, args: ARGS, timeout: 60000
  })
  t.after(async () => {
    await context.close()
    fs.rmSync(profile, { recursive: true, force: true })
  })
  context.setDefaultTimeout(30000)
  return context
}

async function drive (t, url, shot) {
  const context = await launch(t)
  const page = context.pages()[0] || await context.newPage()
  const both = async (re) => {
    await page.waitForFunction((src) => {
      const r = new RegExp(src)
      return r.test(document.getElementById('view-http').textContent) && r.test(document.getElementById('view-ws').textContent)
    }, re.source)
  }
  await page.goto(url)
  await page.waitForFunction(() => document.getElementById('ws-status').textContent === 'open')

  // sign in over HTTP
  await page.fill('#name', 'Ada')
  await page.click('#signin')
  await page.waitForSelector('#user:has-text("Ada")')
  await both(/user: {4}Ada\ncounter: 0/)

  // the counter over the websocket, three clicks
  for (let i = 1; i <= 3; i++) {
    await page.click('#ws-increment')
    await both(new RegExp(`counter: ${i}\\n`))
  }
  await page.fill('#item', 'tea')
  await page.click('#ws-add')
  await both(/cart: {4}tea$/)

  // reload: a new page load over HTTP and a new websocket, the same session
  await page.reload()
  await both(/user: {4}Ada\ncounter: 3\ncart: {4}tea$/)
  assert.strictEqual(await page.textContent('#user'), 'Ada')

  // and over HTTP, seen by the websocket
  await page.click('#http-increment')
  await both(/counter: 4\n/)
  await page.reload()
  await both(/counter: 4\n/)
  assert.strictEqual(await page.textContent('#error'), '')

  fs.mkdirSync(ARTIFACTS, { recursive: true })
  await page.screenshot({ path: path.join(ARTIFACTS, shot), fullPage: true })
  assert.ok(fs.statSync(path.join(ARTIFACTS, shot)).size > 1000)

  // signing out ends the session for both
  await page.click('#signout')
  await page.waitForSelector('#signin', { state: 'visible' })
  await both(/user: {4}—\ncounter: 0/)
}

test('browser: sign in, change the counter over the websocket, reload, same session (memory store)', { timeout: 180000 }, async (t) => {
  if (!chromiumOrSkip(t)) return
  const url = await startDemo(t)
  await drive(t, url, 'browser-demo-memory.png')
})

test('browser: the same with SESSION_STORE=redis://…', { timeout: 180000 }, async (t) => {
  if (!chromiumOrSkip(t)) return
  if (!(await redisOrSkip(t))) return
  const prefix = `test:browser:${Date.now().toString(36)}${Math.random().toString(36).slice(2)}:`
  const url = await startDemo(t, { SESSION_STORE: `redis://127.0.0.1:${REDIS_PORT}`, SESSION_PREFIX: prefix })
  t.after(async () => { // after the demo stopped (hooks run in order)
    const { RedisStore } = require('..')
    const store = new RedisStore({ port: REDIS_PORT, prefix })
    await store.clear()
    await store.close()
  })
  await drive(t, url, 'browser-demo-redis.png')
})
