'use strict'
// MemoryStore across worker_threads (shared by name) and process lifetime: neither the
// sweeper thread nor an unclosed store keeps the process alive.
const test = require('node:test')
const assert = require('node:assert')
const path = require('node:path')
const { Worker } = require('node:worker_threads')
const { spawn } = require('node:child_process')
const { MemoryStore } = require('..')

const root = path.join(__dirname, '..')

// Runs `body` (an async function's source, given `MemoryStore` and `data`) in a worker;
// resolves with what it returns.
function inWorker (body, data) {
  const src = `
    const { parentPort, workerData } = require('node:worker_threads')
    const { MemoryStore } = require(${JSON.stringify(root)})
    ;(${body})(MemoryStore, workerData).then(
      (v) => parentPort.postMessage({ v }),
      (e) => parentPort.postMessage({ e: e.stack || String(e) }))`
  return new Promise((resolve, reject) => {
    const w = new Worker(src, { eval: true, workerData: data })
    let result
    w.once('message', (m) => { result = m })
    w.once('error', reject)
    w.once('exit', (code) => {
      if (!result) return reject(new Error(`worker exited with ${code} and no result`))
      if (result.e) return reject(new Error(result.e))
      resolve(result.v)
    })
  })
}

const cookie = () => ({ expires: new Date(Date.now() + 86400000) })

test('compare-and-set on a shared store is atomic across worker threads: no increment is lost', async () => {
  const name = `cas-${process.pid}-${Math.random()}`
  const main = new MemoryStore({ shared: name })
  const expires = new Date(Date.now() + 86400000).toISOString()
  await main.setJSON('hot', JSON.stringify({ cookie: { expires }, n: 0 }), { cookie: { expires } })
  // four workers each add 300 to one counter: read the JSON, write n + 1 if it is unchanged
  const tries = await Promise.all([0, 1, 2, 3].map(() => inWorker(`async (MemoryStore, { name, expires }) => {
    const store = new MemoryStore({ shared: name })
    const sess = { cookie: { expires } }
    let tries = 0
    for (let i = 0; i < 300; i++) {
      let cur = await store.getJSON('hot')
      for (;;) {
        tries++
        const next = JSON.stringify({ cookie: { expires }, n: JSON.parse(cur).n + 1 })
        const r = await store.casJSON('hot', cur, next, sess, null)
        if (r === 'ok') break
        if (r === 'gone' || r === 'fenced') throw new Error(r)
        cur = r
      }
    }
    return tries
  }`, { name, expires })))
  assert.strictEqual(JSON.parse(await main.getJSON('hot')).n, 1200)
  assert.ok(tries.every((t) => t >= 300))
  await main.close()
})

test('stores with the same shared name in different workers see the same sessions', async () => {
  const name = `w-${process.pid}-${Math.random()}`
  const main = new MemoryStore({ shared: name, max: 100000 })
  await main.set('from-main', { cookie: cookie(), who: 'main' })

  // four workers write concurrently, read what main wrote, and exit without close()
  const results = await Promise.all([0, 1, 2, 3].map((k) => inWorker(`async (MemoryStore, { name, k }) => {
    const store = new MemoryStore({ shared: name, max: 100000 })
    const seen = (await store.get('from-main')).who
    const c = { expires: new Date(Date.now() + 86400000) }
    await Promise.all(Array.from({ length: 2500 }, (_, i) => store.set('w' + k + '-' + i, { cookie: c, k, i, s: 'é🎉' })))
    await store.set('shared-key', { cookie: c, k })
    return { seen, length: await store.length() }
  }`, { name, k })))
  for (const r of results) {
    assert.strictEqual(r.seen, 'main')
    assert.ok(r.length >= 2501)
  }
  assert.strictEqual(await main.length(), 1 + 4 * 2500 + 1)
  for (let k = 0; k < 4; k++) {
    const s = await main.get(`w${k}-2499`)
    assert.deepStrictEqual({ k: s.k, i: s.i, s: s.s }, { k, i: 2499, s: 'é🎉' })
    assert.ok(new Date(s.cookie.expires) > Date.now())
  }
  assert.ok([0, 1, 2, 3].includes((await main.get('shared-key')).k))

  // a worker that closes its handle does not close the store for the others
  const after = await inWorker(`async (MemoryStore, { name }) => {
    const store = new MemoryStore({ shared: name, max: 100000 })
    await store.destroy('from-main')
    await store.close()
    let code
    await store.get('x').catch((e) => { code = e.code })
    return code
  }`, { name })
  assert.strictEqual(after, 'ERR_STORE_CLOSED')
  assert.strictEqual(await main.get('from-main'), undefined, 'the destroy from the worker is seen')
  assert.strictEqual(await main.length(), 4 * 2500 + 1)

  // other options for the same name are refused, in a worker too
  const refused = await inWorker(`async (MemoryStore, { name }) => {
    try { new MemoryStore({ shared: name, max: 5 }) } catch (e) { return e.code }
  }`, { name })
  assert.strictEqual(refused, 'ERR_SHARED_OPTIONS')

  // the last handle closes: the name starts empty again
  await main.close()
  const fresh = await inWorker(`async (MemoryStore, { name }) => {
    const store = new MemoryStore({ shared: name, max: 100000 })
    const n = await store.length()
    await store.close()
    return n
  }`, { name })
  assert.strictEqual(fresh, 0)
})

test('a store kept open by a worker outlives the main thread handle', async () => {
  const name = `w2-${process.pid}-${Math.random()}`
  const main = new MemoryStore({ shared: name })
  await main.set('a', { cookie: cookie(), v: 1 })
  const worker = new Worker(`
    const { parentPort, workerData } = require('node:worker_threads')
    const { MemoryStore } = require(${JSON.stringify(root)})
    const store = new MemoryStore({ shared: workerData })
    parentPort.on('message', async (sid) => {
      const s = await store.get(sid)
      parentPort.postMessage(s ? s.v : null)
      if (sid === 'bye') { await store.close(); parentPort.close() }
    })`, { eval: true, workerData: name })
  const ask = (sid) => new Promise((resolve) => { worker.once('message', resolve); worker.postMessage(sid) })
  try {
    assert.strictEqual(await ask('a'), 1)
    await main.close()
    assert.strictEqual(await ask('a'), 1, 'the worker handle keeps the store')
  } finally {
    await ask('bye')
    await new Promise((resolve) => worker.once('exit', resolve))
  }
})

function runNode (src, timeoutMs = 30000, flags = []) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...flags, '-e', src], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout.on('data', (d) => { out += d })
    child.stderr.on('data', (d) => { out += d })
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error('process did not exit: ' + out)) }, timeoutMs)
    child.on('exit', (code) => { clearTimeout(timer); resolve({ code, out }) })
  })
}

test('the process exits by itself: after close(), and with stores never closed', async () => {
  for (const close of [true, false]) {
    const { code, out } = await runNode(`
      const { MemoryStore } = require('.')
      const a = new MemoryStore({ sweepInterval: 10, ttl: 50 })
      const b = new MemoryStore({ shared: 'exit-test', sweepInterval: 10 })
      Promise.all([a.set('x', { cookie: {} }), b.set('y', { cookie: {} })]).then(async () => {
        ${close ? 'await a.close(); await b.close()' : ''}
        console.log('done')
      })`)
    assert.strictEqual(code, 0, out)
    assert.match(out, /done/)
  }
})

test('a worker with an unclosed shared store exits by itself', async () => {
  const v = await inWorker(`async (MemoryStore) => {
    const s = new MemoryStore({ shared: 'left-open', sweepInterval: 5 })
    await s.set('k', { cookie: {} })
    return 'ok'
  }`)
  assert.strictEqual(v, 'ok')
})

test('a shared store whose handles are all garbage-collected is freed (the name starts empty)', async () => {
  const { code, out } = await runNode(`
    const { MemoryStore } = require('.')
    ;(async () => {
      await (async () => {
        const a = new MemoryStore({ shared: 'gc-test' })
        await a.set('x', { cookie: {} })
      })()
      for (let i = 0; i < 200; i++) {
        global.gc()
        await new Promise((resolve) => setTimeout(resolve, 10))
        const b = new MemoryStore({ shared: 'gc-test' })
        const n = await b.length()
        await b.close()
        if (n === 0) { console.log('freed after', i); return }
      }
      console.log('never freed')
    })()`, 60000, ['--expose-gc'])
  assert.strictEqual(code, 0, out)
  assert.match(out, /freed after/)
})
